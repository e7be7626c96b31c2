// SPDX-License-Identifier: Apache-2.0
// The catalogue: what recovery finds in a shard's directories, where replay
// starts, what retention deletes, what is still waiting. On real files.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdio>
#include <string>

#include "temp_dir.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/spool/ack_file.hpp"
#include "tollgate/spool/catalogue.hpp"
#include "tollgate/spool/format.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/segment_writer.hpp"

using namespace tg;
using spool_test::temp_dir;

namespace {
const struct quiet_logs {
  quiet_logs() { log::set_level(log::level::error); }
} quiet;

// Writes `records` events into directory `shard` of the spool at `root`,
// rolling segments every ~1 KiB; returns the last sequence number.
std::uint64_t write_events(const std::string& root, std::uint32_t shard, int records) {
  const std::string dir = root + "/" + spool::shard_dir_name(shard);
  ::mkdir(dir.c_str(), 0750);
  spool::writer_options wo;
  wo.segment_bytes = 1024;
  wo.buffer_bytes = 64u << 10;
  auto w = spool::segment_writer::create(dir, shard, 1, 1, wo);
  REQUIRE(w);
  std::uint64_t last = 0;
  for (int i = 0; i < records; ++i) {
    const std::string e = "{\"id\":\"" + std::to_string(i) + "\",\"pad\":\"" + std::string(60, 'p') + "\"}";
    auto r = w->append({e.data(), e.size()});
    REQUIRE(r);
    last = *r;
  }
  REQUIRE(w->sync());
  return last;
}
}  // namespace

TEST_CASE("catalogue recovers a directory and starts replay after the acknowledged position") {
  temp_dir d;
  const std::uint64_t last = write_events(d.path(), 0, 40);
  REQUIRE(spool::write_ack_file(d / spool::shard_dir_name(0), 25));
  spool::probe p;
  spool::catalogue c(d.path(), 0, {0}, 4096, p);
  REQUIRE(c.dirs().size() == 1);
  CHECK(c.own_dir().acked == 25);
  CHECK(c.events_waiting(last) == last - 25);
  const auto at = c.first_unacked(c.own());
  REQUIRE(at);
  CHECK(at->seq == 26);
  // The segments wholly at or before 25 went at start-up.
  for (const auto& g : c.own_dir().segs) CHECK(g.last_seq > 25);
  CHECK(p.deleted_segments.get() > 0);
}

TEST_CASE("catalogue deletes delivered segments but never the active one, and counts bytes") {
  temp_dir d;
  const std::uint64_t last = write_events(d.path(), 0, 40);
  spool::probe p;
  spool::catalogue c(d.path(), 0, {0}, 4096, p);
  const std::size_t segments = c.segments();
  REQUIRE(segments > 2);
  const std::uint64_t bytes = c.bytes();
  CHECK(bytes > 40 * 60);
  const std::uint64_t newest = c.own_dir().segs.back().number;
  c.delivered(static_cast<std::uint32_t>(c.own()), last);
  const std::size_t gone = c.delete_delivered(newest);
  CHECK(gone == segments - 1);
  CHECK(c.segments() == 1);
  CHECK(c.bytes() < bytes);
  CHECK(c.own_dir().segs.front().number == newest);
  CHECK(c.events_waiting(last) == 0);
}

TEST_CASE("catalogue replays an old shard's directory first and removes it once delivered") {
  temp_dir d;
  const std::uint64_t old_last = write_events(d.path(), 3, 10);
  spool::probe p;
  spool::catalogue c(d.path(), 1, {1, 3}, 4096, p);  // --shards 2 now: directory 3 goes to shard 1
  REQUIRE(c.dirs().size() == 2);
  CHECK(c.dirs()[0].id == 3);
  CHECK(c.dirs()[1].own);
  const auto at = c.first_unacked(0);
  REQUIRE(at);
  CHECK(at->seq == 1);
  CHECK(c.events_waiting(0) == old_last);
  c.delivered(0, old_last);
  c.dirs()[0].finished = true;  // the driver read every record of it into the ring
  c.delete_delivered(std::nullopt);
  CHECK(c.dirs()[0].removed);
  struct stat st {};
  CHECK(::stat((d / spool::shard_dir_name(3)).c_str(), &st) != 0);
}

TEST_CASE("catalogue persists a moved position and only then") {
  temp_dir d;
  write_events(d.path(), 0, 5);
  spool::probe p;
  spool::catalogue c(d.path(), 0, {0}, 4096, p);
  c.delivered(0, 3);
  c.persist(false);
  auto a = spool::read_ack_file(d / spool::shard_dir_name(0));
  REQUIRE(a);
  CHECK(a->acked == 3);
  CHECK(c.own_dir().persisted == 3);
}

TEST_CASE("events lost to damage are not counted as waiting") {
  temp_dir d;
  const std::uint64_t last = write_events(d.path(), 0, 40);
  auto files = spool::list_segments(d / spool::shard_dir_name(0));
  REQUIRE(files);
  REQUIRE(files->size() > 3);
  // A flipped byte in the payload of the second segment's first record: that
  // record is lost, the rest of the segment is kept.
  {
    const std::string& path = (*files)[1].path;
    std::FILE* f = std::fopen(path.c_str(), "r+b");
    REQUIRE(f != nullptr);
    const long at = static_cast<long>(spool::segment_header_bytes + spool::record_header_bytes + 10);
    REQUIRE(std::fseek(f, at, SEEK_SET) == 0);
    const int c = std::fgetc(f);
    REQUIRE(std::fseek(f, at, SEEK_SET) == 0);
    std::fputc(c ^ 0x20, f);
    std::fclose(f);
  }
  REQUIRE(spool::write_ack_file(d / spool::shard_dir_name(0), 3));
  spool::probe p;
  spool::catalogue c(d.path(), 0, {0}, 4096, p);
  REQUIRE(p.quarantined_events.get() == 1);
  CHECK(c.events_waiting(last) == last - 3 - 1);
  // Once delivered past the gap, it no longer counts either way.
  c.delivered(static_cast<std::uint32_t>(c.own()), last - 2);
  CHECK(c.events_waiting(last) == 2);
}
