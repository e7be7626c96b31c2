// SPDX-License-Identifier: Apache-2.0
// The append path: records land in segments that recovery reads back, roll
// over at the byte bound, and move through appended -> written -> synced the
// way group commit needs, including when the shard drives the writes itself.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/segment_writer.hpp"

using namespace tg::spool;
using spool_test::temp_dir;

namespace {
// Every event the same size (15 bytes), so byte bounds are easy to reason about.
std::string event(int i) { return "{\"id\":\"" + std::to_string(100000 + i) + "\"}"; }
const std::size_t fp = record_footprint(event(1).size());
}  // namespace

TEST_CASE("appended records read back through recovery in order") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 2, 1, 1);
  REQUIRE(w);
  for (int i = 1; i <= 100; ++i) {
    auto seq = w->append(event(i));
    REQUIRE(seq);
    CHECK(*seq == static_cast<std::uint64_t>(i));
  }
  CHECK(w->pending() == segment_header_bytes + 100 * fp);
  REQUIRE(w->flush());
  CHECK(w->pending() == 0);
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  CHECK(rep->result == outcome::clean);
  CHECK(rep->header->shard == 2);
  CHECK(rep->records.size() == 100);
  CHECK(rep->last_seq() == 100);
}

TEST_CASE("segment rolls over exactly at the byte bound") {
  temp_dir d;
  writer_options o;
  o.segment_bytes = segment_header_bytes + 4 * fp;  // room for exactly four records
  auto w = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(w);
  for (int i = 1; i <= 4; ++i) REQUIRE(w->append(event(i)));
  CHECK(w->segment_seq() == 1);
  CHECK(w->segment_bytes() == o.segment_bytes);
  REQUIRE(w->append(event(5)));
  CHECK(w->segment_seq() == 2);
  for (int i = 6; i <= 10; ++i) REQUIRE(w->append(event(i)));
  CHECK(w->segment_seq() == 3);
  REQUIRE(w->sync());
  CHECK(w->open_segments() == 1);  // sealed segments closed once written and synced

  auto segs = list_segments(d.path());
  REQUIRE(segs);
  REQUIRE(segs->size() == 3);
  std::uint64_t next = 1;
  for (const auto& s : *segs) {
    auto rep = recover_segment(s.path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::clean);
    CHECK(rep->file_bytes <= o.segment_bytes);
    CHECK(rep->header->first_seq == next);
    next = rep->last_seq() + 1;
  }
  CHECK(next == 11);
}

TEST_CASE("a record larger than a segment gets a segment of its own") {
  temp_dir d;
  writer_options o;
  o.segment_bytes = 64;
  auto w = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(w);
  const std::string big(500, 'x');
  REQUIRE(w->append(big));
  REQUIRE(w->append(big));
  REQUIRE(w->append("small"));
  REQUIRE(w->flush());
  auto segs = list_segments(d.path());
  REQUIRE(segs);
  CHECK(segs->size() == 3);
}

TEST_CASE("append refuses oversized and empty payloads") {
  temp_dir d;
  writer_options o;
  o.max_payload = 100;
  auto w = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(w);
  auto r = w->append(std::string(101, 'x'));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::too_large);
  CHECK_FALSE(w->append(std::string()));
  CHECK(w->append(std::string(100, 'x')));
  CHECK(w->last_appended() == 1);
}

TEST_CASE("appends go on in the second buffer while the first is written, and stop when both are full") {
  temp_dir d;
  writer_options o;
  o.max_payload = 64;
  o.buffer_bytes = segment_header_bytes + 4 * fp;  // each buffer: the header and four records
  auto w = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(w);
  CHECK(w->fits(4 * fp));
  CHECK_FALSE(w->fits(5 * fp + segment_header_bytes + 1));
  for (int i = 1; i <= 4; ++i) REQUIRE(w->append(event(i)));
  // The first buffer is full; the second takes the next records.
  auto op = w->next_write();
  REQUIRE(op);
  CHECK(op->bytes.size() == segment_header_bytes + 4 * fp);
  // The second buffer has no header in it: it takes as many records as fit.
  const int second = static_cast<int>((segment_header_bytes + 4 * fp) / fp);
  const int last = 4 + second;
  for (int i = 5; i <= last; ++i) REQUIRE(w->append(event(i)));  // while the write is in flight
  auto r = w->append(event(last + 1));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::buffer_full);  // both buffers hold unwritten records
  CHECK_FALSE(w->fits(fp));
  REQUIRE(::pwrite(op->fd, op->bytes.data(), op->bytes.size(), static_cast<off_t>(op->offset)) ==
          static_cast<ssize_t>(op->bytes.size()));
  w->wrote(op->bytes.size());
  CHECK(w->last_written() == 4);
  CHECK(w->fits(fp));  // the written buffer is free again
  REQUIRE(w->append(event(last + 1)));
  CHECK(w->last_appended() == static_cast<std::uint64_t>(last + 1));
  REQUIRE(w->flush());
  CHECK(w->last_written() == static_cast<std::uint64_t>(last + 1));
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  REQUIRE(rep->records.size() == static_cast<std::size_t>(last + 1));
  for (std::size_t i = 0; i < rep->records.size(); ++i) CHECK(rep->records[i].seq == i + 1);
}

TEST_CASE("writer driven write by write, with short writes, tracks written and synced positions") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  CHECK(w->last_appended() == 0);
  CHECK(w->last_written() == 0);
  CHECK(w->last_synced() == 0);
  for (int i = 1; i <= 3; ++i) REQUIRE(w->append(event(i)));

  auto op = w->next_write();
  REQUIRE(op);
  CHECK(op->offset == 0);
  CHECK_FALSE(w->next_write());  // one in flight at a time
  // Records appended while the write is in flight are not part of it.
  REQUIRE(w->append(event(4)));
  // A short write: the range's records are not all in the file yet.
  const std::size_t half = op->bytes.size() / 2;
  REQUIRE(::pwrite(op->fd, op->bytes.data(), half, static_cast<off_t>(op->offset)) == static_cast<ssize_t>(half));
  w->wrote(half);
  CHECK(w->last_written() == 0);

  op = w->next_write();
  REQUIRE(op);
  CHECK(op->offset == half);
  REQUIRE(::pwrite(op->fd, op->bytes.data(), op->bytes.size(), static_cast<off_t>(op->offset)) ==
          static_cast<ssize_t>(op->bytes.size()));
  w->wrote(op->bytes.size());
  CHECK(w->last_written() == 3);  // the rest of the first buffer; record 4 went to the other one

  op = w->next_write();
  REQUIRE(op);
  CHECK(op->offset == segment_header_bytes + 3 * fp);
  REQUIRE(::pwrite(op->fd, op->bytes.data(), op->bytes.size(), static_cast<off_t>(op->offset)) ==
          static_cast<ssize_t>(op->bytes.size()));
  w->wrote(op->bytes.size());
  CHECK(w->last_written() == 4);

  // Group commit: one sync covers everything written when it was planned.
  sync_plan plan;
  w->plan_sync(plan);
  CHECK(plan.covers_seq == 4);
  CHECK(plan.fds.size() == 1);
  CHECK(plan.dir_fd >= 0);  // the segment is new: its directory entry needs a sync too
  REQUIRE(w->append(event(5)));  // arrives while the sync is in flight
  for (int fd : plan.fds) REQUIRE(::fdatasync(fd) == 0);
  REQUIRE(::fsync(plan.dir_fd) == 0);
  w->synced(plan);
  CHECK(w->last_synced() == 4);

  REQUIRE(w->sync());
  CHECK(w->last_synced() == 5);
  w->plan_sync(plan);
  CHECK(plan.fds.empty());
  CHECK(plan.dir_fd < 0);
}

TEST_CASE("records in a new segment are not durable until its directory entry is") {
  temp_dir d;
  writer_options o;
  o.segment_bytes = segment_header_bytes + fp;
  auto w = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(w);
  REQUIRE(w->append(event(1)));
  REQUIRE(w->sync());
  REQUIRE(w->append(event(2)));  // rolls to segment 2
  REQUIRE(w->flush());
  sync_plan plan;
  w->plan_sync(plan);
  REQUIRE(plan.dir_fd >= 0);
  sync_plan without_dir = plan;
  without_dir.dir_fd = -1;  // as if the directory sync had not been part of it
  w->synced(without_dir);
  CHECK(w->last_synced() == 1);
  w->synced(plan);
  CHECK(w->last_synced() == 2);
}

TEST_CASE("writer never overwrites an existing segment") {
  temp_dir d;
  {
    auto w = segment_writer::create(d.path(), 0, 7, 1);
    REQUIRE(w);
    REQUIRE(w->append(event(1)));
    REQUIRE(w->flush());
  }
  auto again = segment_writer::create(d.path(), 0, 7, 2);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == errc::io);
  CHECK(again.error().sys == EEXIST);
}

TEST_CASE("a writer can be moved without closing its files twice") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  segment_writer moved = std::move(*w);
  REQUIRE(moved.append(event(1)));
  REQUIRE(moved.sync());
  CHECK(moved.last_synced() == 1);
}

TEST_CASE("a writer that falls back from O_DIRECT to buffered writes keeps every record in order") {
  temp_dir d;
  writer_options o;
  o.direct_io = true;
  auto w = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(w);
  for (int i = 1; i <= 3; ++i) REQUIRE(w->append(event(i)));
  REQUIRE(w->flush());  // whole blocks, when O_DIRECT was taken
  w->disable_direct_io();
  CHECK_FALSE(w->direct_io());
  for (int i = 4; i <= 6; ++i) REQUIRE(w->append(event(i)));
  REQUIRE(w->sync());
  CHECK(w->last_synced() == 6);
  auto rep = recover_segment(d / segment_file_name(1));  // the padding past record 6 reads as a torn tail
  REQUIRE(rep);
  REQUIRE(rep->records.size() == 6);
  for (std::size_t i = 0; i < 6; ++i) CHECK(rep->records[i].seq == i + 1);
}

TEST_CASE("with direct I/O a segment reserves its blocks past its end, and gives them back when sealed and closed") {
  temp_dir d;
  writer_options o;
  o.direct_io = true;
  o.segment_bytes = 4u << 20;  // 4 MiB reserved per segment
  o.buffer_bytes = 64u << 10;
  auto created = segment_writer::create(d.path(), 0, 1, 1, o);
  REQUIRE(created);
  std::optional<segment_writer> w(std::move(*created));
  const std::string seg1 = d / segment_file_name(1);
  auto allocated = [](const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return std::pair<std::uint64_t, std::uint64_t>(static_cast<std::uint64_t>(st.st_size),
                                                   static_cast<std::uint64_t>(st.st_blocks) * 512);
  };
  const auto [size0, blocks0] = allocated(seg1);
  CHECK(size0 == 0);  // the reservation is past the end: nothing there for a reader or recovery
  if (!w->direct_io() || blocks0 < o.segment_bytes) {
    // tmpfs (never reserved: it would take memory), no O_DIRECT, or no fallocate: nothing to check.
    MESSAGE("no block reservation on this file system (TMPDIR=" << d.path() << "); skipping the checks");
    return;
  }
  for (int i = 1; i <= 10; ++i) REQUIRE(w->append(event(i)));
  REQUIRE(w->sync());
  const auto [size1, blocks1] = allocated(seg1);
  CHECK(size1 == 4096);            // one O_DIRECT block written, however much is reserved
  CHECK(blocks1 >= o.segment_bytes);
  {
    auto rep = recover_segment(seg1);  // what a start after a crash here would find: the ten records
    REQUIRE(rep);
    REQUIRE(rep->records.size() == 10);
    CHECK(rep->records.back().seq == 10);
  }
  // Past the byte bound: segment 1 is sealed, and once written and synced its
  // reservation past the last record goes.
  int i = 11;
  while (w->segment_seq() == 1) {
    if (w->append(event(i))) {
      ++i;
    } else {
      REQUIRE(w->flush());  // both buffers full: write them out, as the shard would
    }
  }
  REQUIRE(w->sync());
  CHECK(w->open_segments() == 1);
  const auto [size2, blocks2] = allocated(seg1);
  CHECK(size2 <= o.segment_bytes);
  CHECK(blocks2 < size2 + 64u * 1024);  // its records' blocks (and file system rounding), no more
  const std::string seg2 = d / segment_file_name(2);
  CHECK(allocated(seg2).second >= o.segment_bytes);
  // A clean close gives back the newest segment's reservation too.
  w.reset();
  const auto [size3, blocks3] = allocated(seg2);
  CHECK(blocks3 < size3 + 64u * 1024);
  auto rep = recover_segment(seg2);
  REQUIRE(rep);
  CHECK(rep->result == outcome::clean);
  CHECK(rep->last_seq() == static_cast<std::uint64_t>(i - 1));
}
