// SPDX-License-Identifier: Apache-2.0
// The per-shard spool driver on real files and a real io_uring, driven the way
// a shard drives it: poll(), submit and wait, route the spool's completions to
// on_cqe(). A stand-in output reads the event ring from read_begin() and
// frees what it read, counting freed records into the total the driver follows.
// Covers the durable write path, the ring as a cache with overflow to disk and
// refill, acknowledged positions and segment deletion, replay after a restart
// (also with a different shard count), and admission at --spool-max-bytes.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/spool/driver.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/spool/ack_file.hpp"
#include "tollgate/spool/format.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/segment_reader.hpp"

using namespace tg;
using spool_driver = spool::driver;
using spool_settings = spool::driver_options;
using spool_test::temp_dir;

namespace {

// These tests need io_uring: where the kernel has none, skip (exit 77) and say why.
const bool uring_available = [] {
  try {
    reactor::uring probe(reactor::uring_options{8});
    return true;
  } catch (const reactor::unsupported& e) {
    std::fprintf(stderr, "SKIP: io_uring is not usable here: %s\n", e.what());
    std::exit(77);
  }
}();

// The driver logs every start at info; keep the test output to what matters.
const struct quiet_logs {
  quiet_logs() { log::set_level(log::level::warn); }
} quiet;

// Events of varying length (so records do not line up with segment or ring ends).
std::string event(const std::string& prefix, int i) {
  return "{\"id\":\"" + prefix + std::to_string(i) + "\",\"source\":\"spool-driver-test\",\"data\":\"" +
         std::string(static_cast<std::size_t>(i % 41), 'x') + "\"}";
}
std::string event(int i) { return event("ev-", i); }

spool_settings settings_for(const temp_dir& d) {
  spool_settings s;
  s.dir = d.path();
  s.segment_bytes = 1u << 20;
  s.max_bytes = 0;
  s.sync_max_delay_us = 0;
  s.durable = true;
  s.max_payload = 4096;
  s.writer_buffer_bytes = 64u << 10;
  // Buffered writes: these tests compare files byte for byte with what was
  // appended; O_DIRECT's block padding has its own test below.
  s.direct_io = false;
  s.persist_interval_ms = 0;  // every tick (the tests pass the clock as 0)
  return s;
}

std::string shard_dir(const temp_dir& d, std::uint32_t shard) { return d / spool::shard_dir_name(shard); }

struct rec {
  std::uint64_t seq = 0;
  std::string payload;
};

// Every record of one segment file, read with the replay reader (no changes to the file).
std::vector<rec> read_segment(const std::string& path) {
  spool::segment_reader r(4096);
  REQUIRE(r.open(path, 0));
  std::vector<rec> out;
  auto st = r.read(std::numeric_limits<std::uint64_t>::max(), [&](std::uint64_t seq, std::span<const char> p) {
    out.push_back({seq, std::string(p.data(), p.size())});
    return true;
  });
  REQUIRE(st);
  CHECK(*st == spool::segment_reader::stop::end);
  return out;
}

std::vector<spool::segment_file> segments_in(const std::string& dir) {
  auto files = spool::list_segments(dir);
  REQUIRE(files);
  return *files;
}

std::uint64_t bytes_of_segments(const std::string& dir) {
  std::uint64_t n = 0;
  for (const auto& f : segments_in(dir)) n += spool_test::read_file(f.path).size();
  return n;
}

std::uint64_t acked_on_disk(const std::string& dir) {
  auto a = spool::read_ack_file(dir);
  REQUIRE(a);
  return a->acked;
}

// One shard as far as the spool is concerned: its ring, its io_uring, its
// spool driver, and a forwarder stand-in consuming the ring.
struct shard_sim {
  ring::event_ring ring;
  spool::probe m;
  reactor::uring uring{reactor::uring_options{64}};
  spool_driver driver;
  std::uint64_t released = 0;    // records the forwarder freed, for poll()
  std::vector<std::string> got;  // what the forwarder read, in order

  shard_sim(unsigned shard, const std::vector<std::uint32_t>& replay, const spool_settings& s,
            std::size_t ring_bytes = 64u << 10)
      : ring(ring_bytes), driver(shard, replay, s, ring, m) {
    driver.use_ring(uring);
    driver.follow([this] { return released; });
  }

  // A shard polls once before it serves anything: a new driver starts in
  // overflow (that is how replay works) and its first poll finds out whether
  // anything is waiting on disk.
  void start() { step(); }

  // Appends one request's events as ingest_handler::ingest_spooled does: into
  // ring reservations as well while the ring keeps up, the spool alone once a
  // reservation fails. Returns the last sequence number.
  std::uint64_t ingest(const std::vector<std::string>& events) {
    std::vector<std::span<const char>> payloads;
    bool in_ring = driver.ring_in_sync();
    if (in_ring) {
      for (const std::string& e : events) {
        char* dst = ring.try_reserve(e.size());
        if (dst == nullptr) {
          ring.rollback();
          in_ring = false;
          break;
        }
        std::memcpy(dst, e.data(), e.size());
        payloads.emplace_back(dst, e.size());
      }
    }
    if (!in_ring) {
      payloads.clear();
      for (const std::string& e : events) payloads.emplace_back(e.data(), e.size());
    }
    auto last = driver.append_request(payloads, in_ring);
    if (!last && in_ring) ring.rollback();
    REQUIRE(last);
    if (in_ring) ring.commit();
    return *last;
  }

  // The forwarder: reads up to `max` records from the front of the ring, keeps
  // them, frees them. Returns how many it took.
  std::size_t consume(std::size_t max = std::numeric_limits<std::size_t>::max()) {
    std::uint64_t pos = ring.read_begin();
    ring::event_ring::record r;
    std::size_t n = 0;
    while (n < max && ring.read(pos, r)) {
      got.emplace_back(r.bytes.data(), r.bytes.size());
      pos = r.next;
      ++n;
    }
    if (n > 0) {
      ring.release(pos);
      released += n;
    }
    return n;
  }

  // What the ring holds now, without freeing it.
  std::vector<std::string> peek() const {
    std::vector<std::string> out;
    std::uint64_t pos = ring.read_begin();
    ring::event_ring::record r;
    while (ring.read(pos, r)) {
      out.emplace_back(r.bytes.data(), r.bytes.size());
      pos = r.next;
    }
    return out;
  }

  // One iteration of the shard's loop: poll, submit, wait (bounded) for a
  // completion while the spool has I/O in flight, route the spool's ones.
  // The driver's tick, and the deletions it started: done when this returns.
  void tick() {
    driver.tick(0);
    for (int i = 0; i < 100 && driver.unlinking(); ++i) step();
    REQUIRE_FALSE(driver.unlinking());
  }

  void step() {
    driver.poll(0);
    if (driver.io_in_flight()) {
      uring.submit_and_wait_us(200000);
    } else {
      uring.submit();
    }
    uring.reap([this](const io_uring_cqe& cqe) {
      const reactor::tag t = reactor::decode(cqe.user_data);
      if (t.owner == driver.id()) driver.on_cqe(t, cqe);
    });
  }

  // Runs the loop until done() holds; the forwarder takes up to `per_step`
  // records per iteration (0: it is not running). False when it never holds.
  template <class Done>
  bool pump(Done&& done, std::size_t per_step = 0, int max_iterations = 20000) {
    for (int i = 0; i < max_iterations; ++i) {
      if (done()) return true;
      if (per_step > 0) consume(per_step);
      step();
    }
    return done();
  }

  bool pump_until_synced(std::uint64_t seq) {
    return pump([&] { return driver.synced_seq() >= seq && !driver.io_in_flight(); });
  }

  // The forwarder reads until it has `n` records and the ring is the cache again.
  bool pump_until_received(std::size_t n, std::size_t per_step = 1000) {
    return pump([&] { return got.size() >= n && driver.caught_up(); }, per_step);
  }
};

// First index where two sequences differ (or the shorter length).
std::size_t first_difference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

TEST_CASE("with --ack durable a request's events are synced to the segment and held in the ring") {
  temp_dir d;
  shard_sim sh(0, {0}, settings_for(d));
  sh.start();
  CHECK(sh.driver.ring_in_sync());
  CHECK(sh.driver.events_waiting() == 0);

  const std::vector<std::string> evs = {event(1), event(2), event(3)};
  const std::uint64_t last = sh.ingest(evs);
  CHECK(last == 3);
  CHECK(sh.driver.synced_seq() < last);  // nothing reached the disk yet

  REQUIRE(sh.pump_until_synced(last));
  CHECK(sh.driver.written_seq() == last);
  CHECK(sh.driver.synced_seq() == last);
  CHECK(sh.m.syncs.get() >= 1);
  CHECK_FALSE(sh.driver.failing());

  // On disk: one clean segment with exactly these records.
  const auto files = segments_in(shard_dir(d, 0));
  REQUIRE(files.size() == 1);
  auto rep = spool::recover_segment(files[0].path);
  REQUIRE(rep);
  CHECK(rep->result == spool::outcome::clean);
  REQUIRE(rep->records.size() == 3);
  CHECK(rep->first_seq() == 1);
  CHECK(rep->last_seq() == 3);
  const auto recs = read_segment(files[0].path);
  REQUIRE(recs.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(recs[i].seq == i + 1);
    CHECK(recs[i].payload == evs[i]);
  }

  // In memory: the same bytes, and nothing was read back from disk.
  CHECK(sh.peek() == evs);
  CHECK(sh.m.disk_read_events.get() == 0);
  CHECK(sh.driver.ring_in_sync());
  CHECK(sh.driver.events_waiting() == 3);
}

TEST_CASE("events that do not fit in the ring come back from disk exactly once, in order") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.segment_bytes = 4096;  // the backlog spans several segments
  shard_sim sh(0, {0}, s, 4096);
  sh.start();

  std::vector<std::string> expected;
  int next = 0;
  auto request = [&] {
    std::vector<std::string> evs;
    for (int k = 0; k < 3; ++k) evs.push_back(event(next++));
    expected.insert(expected.end(), evs.begin(), evs.end());
    return sh.ingest(evs);
  };

  // The forwarder is stalled: the ring fills, then new events go to disk only.
  for (int r = 0; r < 40; ++r) request();
  CHECK_FALSE(sh.driver.ring_in_sync());
  CHECK_FALSE(sh.driver.caught_up());
  CHECK(sh.peek().size() < expected.size());

  // It runs again, slowly, while requests keep coming.
  for (int r = 0; r < 60; ++r) {
    sh.consume(4);
    sh.step();
    request();
  }
  REQUIRE(expected.size() == 300);

  // One record per iteration: the ring stays full, so every refill stops short
  // (the last records too).
  REQUIRE(sh.pump_until_received(expected.size(), 1));
  CHECK(sh.got.size() == expected.size());
  const std::size_t diff = first_difference(sh.got, expected);
  CHECK_MESSAGE(diff == expected.size(), "first mismatch at event " << diff);
  CHECK(sh.driver.ring_in_sync());
  CHECK(sh.driver.caught_up());
  CHECK(sh.m.disk_read_events.get() > 0);
  CHECK(sh.m.disk_read_events.get() < expected.size());  // the first ones came from memory
  CHECK(sh.m.replayed_events.get() == 0);

  // Every freed record maps back to its sequence number.
  sh.step();
  CHECK(sh.driver.delivered_seq() == expected.size());
  CHECK(sh.driver.events_waiting() == 0);

  // Caught up, the ring is the cache again: a new request is readable at once.
  const std::string more = event(1000);
  CHECK(sh.ingest({more}) == expected.size() + 1);
  CHECK(sh.peek() == std::vector<std::string>{more});
}

TEST_CASE("a segment deleted from outside while events wait in it is counted as lost and the read-back goes on") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.segment_bytes = 4096;
  shard_sim sh(0, {0}, s, 4096);
  sh.start();
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) {
    sent.push_back(event(i));
    sh.ingest({sent.back()});
  }
  // Written and synced, nothing consumed yet: most of them wait on disk.
  for (int i = 0; i < 100 && (sh.driver.synced_seq() < sent.size() || sh.driver.io_in_flight()); ++i) sh.step();
  REQUIRE(sh.driver.synced_seq() == sent.size());
  REQUIRE_FALSE(sh.driver.ring_in_sync());
  const auto files = segments_in(shard_dir(d, 0));
  REQUIRE(files.size() >= 4);
  // The one before the segment being written goes, while the read-back is
  // still in the first ones.
  const std::string& path = files[files.size() - 2].path;
  const auto victim = read_segment(path);
  REQUIRE_FALSE(victim.empty());
  REQUIRE(::unlink(path.c_str()) == 0);

  REQUIRE(sh.pump_until_received(sent.size() - victim.size()));
  CHECK(sh.m.quarantined_events.get() == victim.size());
  CHECK(sh.m.quarantined_segments.get() == 1);
  // Everything else came through, in order, each once.
  std::vector<std::string> want;
  for (const std::string& e : sent) {
    bool lost = false;
    for (const auto& r : victim) lost = lost || r.payload == e;
    if (!lost) want.push_back(e);
  }
  CHECK(sh.got == want);
}

TEST_CASE("freed records advance the acknowledged position; the tick persists it and deletes delivered segments") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.segment_bytes = 4096;
  shard_sim sh(0, {0}, s, 256u << 10);
  sh.start();
  const std::string dir = shard_dir(d, 0);

  std::uint64_t last = 0;
  for (int i = 0; i < 200; i += 4) last = sh.ingest({event(i), event(i + 1), event(i + 2), event(i + 3)});
  REQUIRE(last == 200);
  REQUIRE(sh.pump_until_synced(last));
  CHECK(sh.driver.ring_in_sync());  // everything fit in memory

  const auto before = segments_in(dir);
  REQUIRE(before.size() >= 4);
  std::vector<std::uint64_t> last_seq_of;  // per file in `before`
  for (const auto& f : before) {
    const auto recs = read_segment(f.path);
    REQUIRE_FALSE(recs.empty());
    last_seq_of.push_back(recs.back().seq);
  }

  // The forwarder delivers the first 100.
  CHECK(sh.consume(100) == 100);
  CHECK(sh.driver.delivered_seq() == 0);  // not told yet
  sh.step();
  CHECK(sh.driver.delivered_seq() == 100);
  CHECK(acked_on_disk(dir) == 0);  // persisted on the tick, not before
  CHECK(segments_in(dir).size() == before.size());

  sh.tick();
  CHECK(acked_on_disk(dir) == 100);
  std::vector<std::uint64_t> kept;
  std::size_t deleted = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (last_seq_of[i] > 100) kept.push_back(before[i].seq);
    else ++deleted;
  }
  REQUIRE(deleted > 0);
  std::vector<std::uint64_t> now;
  for (const auto& f : segments_in(dir)) now.push_back(f.seq);
  CHECK(now == kept);
  CHECK(sh.m.deleted_segments.get() == deleted);
  CHECK(sh.m.segments.get() == static_cast<std::int64_t>(kept.size()));
  CHECK(sh.driver.events_waiting() == 100);

  // The rest: every segment goes but the active one (the writer's).
  CHECK(sh.consume() == 100);
  sh.step();
  CHECK(sh.driver.delivered_seq() == 200);
  sh.tick();
  CHECK(acked_on_disk(dir) == 200);
  const auto after = segments_in(dir);
  REQUIRE(after.size() == 1);
  CHECK(after[0].seq == before.back().seq);
  CHECK(sh.m.segments.get() == 1);
  CHECK(sh.m.bytes.get() == static_cast<std::int64_t>(bytes_of_segments(dir)));
  CHECK(sh.driver.events_waiting() == 0);
}

TEST_CASE("a restart replays the events not delivered, then nothing once they are") {
  temp_dir d;
  const spool_settings s = settings_for(d);
  std::vector<std::string> first;
  for (int i = 0; i < 10; ++i) first.push_back(event("run1-", i));

  {
    shard_sim a(0, {0}, s);
    a.start();
    std::uint64_t last = 0;
    for (int i = 0; i < 10; i += 2) last = a.ingest({first[i], first[i + 1]});
    REQUIRE(last == 10);
    REQUIRE(a.pump_until_synced(last));
    // Nothing delivered: the ring still holds them when the process stops.
    CHECK(a.driver.events_waiting() == 10);
    CHECK(a.driver.close() == 0);
  }

  std::vector<std::string> second = {event("run2-", 0), event("run2-", 1)};
  {
    shard_sim b(0, {0}, s);
    CHECK(b.driver.events_waiting() == 10);
    CHECK_FALSE(b.driver.caught_up());  // the old events are on disk only
    CHECK_FALSE(b.driver.ring_in_sync());
    CHECK(b.peek().empty());
    // New requests during the replay queue behind it and keep numbering on.
    CHECK(b.ingest(second) == 12);
    CHECK(b.driver.events_waiting() == 12);

    REQUIRE(b.pump_until_received(12, 3));
    std::vector<std::string> expected = first;
    expected.insert(expected.end(), second.begin(), second.end());
    CHECK(b.got == expected);
    CHECK(b.m.replayed_events.get() == 10);
    CHECK(b.m.disk_read_events.get() == 12);

    b.step();
    CHECK(b.driver.delivered_seq() == 12);
    CHECK(b.driver.events_waiting() == 0);
    b.tick();
    REQUIRE(b.pump([&] { return !b.driver.io_in_flight(); }));
    CHECK(b.driver.close() == 0);
    CHECK(acked_on_disk(shard_dir(d, 0)) == 12);
  }

  {
    shard_sim c(0, {0}, s);
    CHECK(c.driver.events_waiting() == 0);
    for (int i = 0; i < 20; ++i) c.step();
    CHECK(c.peek().empty());
    CHECK(c.driver.caught_up());
    CHECK(c.driver.ring_in_sync());
    CHECK(c.m.replayed_events.get() == 0);
    CHECK(c.m.disk_read_events.get() == 0);
    // Sequence numbers never go back to ones already delivered.
    CHECK(c.ingest({event("run3-", 0)}) == 13);
    CHECK(c.peek() == std::vector<std::string>{event("run3-", 0)});
  }
}

TEST_CASE("a restart replays from the first event not acknowledged, across segments, while deleting behind") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.segment_bytes = 4096;
  const std::string dir = shard_dir(d, 0);
  std::vector<std::string> evs;
  for (int i = 0; i < 180; ++i) evs.push_back(event("r-", i));

  {
    shard_sim a(0, {0}, s, 256u << 10);
    a.start();
    std::uint64_t last = 0;
    for (int i = 0; i < 180; i += 3) last = a.ingest({evs[i], evs[i + 1], evs[i + 2]});
    REQUIRE(last == 180);
    REQUIRE(a.pump_until_synced(last));
    CHECK(a.consume(47) == 47);  // delivered up to the middle of a segment
    a.step();
    a.tick();
    CHECK(a.driver.close() == 0);
    CHECK(acked_on_disk(dir) == 47);
  }
  REQUIRE(segments_in(dir).size() >= 3);  // some deleted already, several left

  shard_sim b(0, {0}, s, 4096);  // a small ring: the replay goes in pieces
  CHECK(b.driver.events_waiting() == 180 - 47);
  // The forwarder takes a few per iteration; the tick runs every iteration, so
  // segments are deleted behind the replay while it reads on.
  REQUIRE(b.pump(
      [&] {
        b.tick();
        return b.got.size() >= 180 - 47 && b.driver.caught_up();
      },
      5));
  const std::vector<std::string> expected(evs.begin() + 47, evs.end());
  CHECK(b.got.size() == expected.size());
  const std::size_t diff = first_difference(b.got, expected);
  CHECK_MESSAGE(diff == expected.size(), "first mismatch at event " << diff);
  CHECK(b.m.replayed_events.get() == expected.size());
  b.step();
  b.tick();
  CHECK(b.driver.delivered_seq() == 180);
  CHECK(acked_on_disk(dir) == 180);
  CHECK(segments_in(dir).size() == 1);  // only the new run's active segment
  CHECK(b.driver.events_waiting() == 0);
}

TEST_CASE("after a change of shard count one shard replays both directories and removes the old one") {
  temp_dir d;
  const spool_settings s = settings_for(d);
  std::vector<std::string> from0, from1;
  for (int i = 0; i < 5; ++i) from0.push_back(event("s0-", i));
  for (int i = 0; i < 7; ++i) from1.push_back(event("s1-", i));
  {
    shard_sim a(0, {0}, s);
    a.start();
    shard_sim b(1, {1}, s);
    b.start();
    std::uint64_t la = 0, lb = 0;
    for (const auto& e : from0) la = a.ingest({e});
    for (const auto& e : from1) lb = b.ingest({e});
    REQUIRE(a.pump_until_synced(la));
    REQUIRE(b.pump_until_synced(lb));
    CHECK(a.driver.close() == 0);
    CHECK(b.driver.close() == 0);
  }
  REQUIRE(spool_test::exists(shard_dir(d, 1)));

  {
    shard_sim x(0, {0, 1}, s);
    CHECK(x.driver.events_waiting() == 12);
    REQUIRE(x.pump_until_received(12, 2));
    CHECK(x.got.size() == 12);
    // Each directory in its own order; every event once.
    std::vector<std::string> got0, got1;
    for (const auto& e : x.got) (e.find("\"s0-") != std::string::npos ? got0 : got1).push_back(e);
    CHECK(got0 == from0);
    CHECK(got1 == from1);
    CHECK(x.m.replayed_events.get() == 12);

    x.step();
    CHECK(x.driver.delivered_seq() == 5);  // the own directory's position
    CHECK(x.driver.events_waiting() == 0);
    x.tick();
    CHECK_FALSE(spool_test::exists(shard_dir(d, 1)));
    CHECK(spool_test::exists(shard_dir(d, 0)));
    CHECK(acked_on_disk(shard_dir(d, 0)) == 5);
    auto dirs = spool::list_shard_dirs(d.path());
    REQUIRE(dirs);
    CHECK(*dirs == std::vector<std::uint32_t>{0});
    CHECK(x.driver.close() == 0);
  }

  {
    shard_sim y(0, {0}, s);
    CHECK(y.driver.events_waiting() == 0);
    for (int i = 0; i < 10; ++i) y.step();
    CHECK(y.peek().empty());
    CHECK(y.driver.caught_up());
  }
}

TEST_CASE("admit() says full at --spool-max-bytes and ok again once delivered segments are deleted") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.segment_bytes = 4096;
  s.max_bytes = 3 * 4096;
  shard_sim sh(0, {0}, s, 256u << 10);
  sh.start();
  const std::string dir = shard_dir(d, 0);

  auto request_of = [](int i) { return std::vector<std::string>{event(i), event(i + 1)}; };
  auto spool_bytes = [](const std::vector<std::string>& evs) {
    std::size_t n = 0;
    for (const auto& e : evs) n += spool::record_footprint(e.size());
    return n;
  };

  int i = 0;
  std::uint64_t last = 0;
  spool_driver::room verdict = spool_driver::room::ok;
  for (; i < 2000; i += 2) {
    verdict = sh.driver.admit(spool_bytes(request_of(i)));
    if (verdict != spool_driver::room::ok) break;
    last = sh.ingest(request_of(i));
  }
  REQUIRE(verdict == spool_driver::room::full);
  REQUIRE(last > 0);
  REQUIRE(sh.pump_until_synced(last));

  // What is on disk is within the limit, and the refused request would pass it.
  const std::size_t refused = spool_bytes(request_of(i));
  const std::uint64_t on_disk = bytes_of_segments(dir);
  CHECK(on_disk <= s.max_bytes);
  CHECK(on_disk + refused > s.max_bytes);
  CHECK(sh.driver.admit(refused) == spool_driver::room::full);

  // A tick frees nothing while nothing is delivered.
  sh.tick();
  CHECK(sh.m.bytes.get() == static_cast<std::int64_t>(on_disk));
  CHECK(sh.driver.admit(refused) == spool_driver::room::full);

  // Delivered, persisted, deleted: room again.
  CHECK(sh.consume() == last);
  sh.step();
  sh.tick();
  CHECK(segments_in(dir).size() == 1);
  CHECK(sh.m.bytes.get() == static_cast<std::int64_t>(bytes_of_segments(dir)));
  CHECK(sh.driver.admit(refused) == spool_driver::room::ok);
  CHECK(sh.ingest(request_of(i)) == last + 2);
}

TEST_CASE("with O_DIRECT records land in whole blocks, read back the same, and a clean close trims the padding") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.direct_io = true;
  std::string path;
  const std::vector<std::string> evs = {event(1), event(2), event(3)};
  {
    shard_sim sh(0, {0}, s);
    sh.start();
    const std::uint64_t last = sh.ingest(evs);
    REQUIRE(sh.pump_until_synced(last));
    const auto files = segments_in(shard_dir(d, 0));
    REQUIRE(files.size() == 1);
    path = files[0].path;
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    if (st.st_size % 4096 != 0) {
      // The file system refused O_DIRECT (the writer fell back to buffered writes).
      MESSAGE("O_DIRECT not taken here; buffered writes were used");
    } else {
      // The zeros past the last record read as an unwritten tail; the records are whole.
      const auto recs = read_segment(path);
      REQUIRE(recs.size() == 3);
      for (std::size_t i = 0; i < 3; ++i) CHECK(recs[i].payload == evs[i]);
    }
    // More records after the first block was written: the partial block is rewritten whole.
    const std::vector<std::string> more = {event(4), event(5)};
    const std::uint64_t last2 = sh.ingest(more);
    REQUIRE(sh.pump_until_synced(last2));
    const auto recs = read_segment(path);
    REQUIRE(recs.size() == 5);
    CHECK(recs[3].payload == more[0]);
    CHECK(recs[4].payload == more[1]);
    CHECK(sh.driver.close() == 0);
  }
  // After the driver is gone, the file ends at its last record.
  auto rep = spool::recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == spool::outcome::clean);
  CHECK(rep->records.size() == 5);
}

TEST_CASE("after a damaged record is quarantined the replay skips its sequence number and positions stay right") {
  temp_dir d;
  spool_settings s = settings_for(d);
  s.segment_bytes = 4096;  // several segments: the damage is in one in the middle
  const std::string dir = shard_dir(d, 0);
  std::vector<std::string> evs;
  for (int i = 0; i < 150; ++i) evs.push_back(event("gap-", i));
  {
    shard_sim a(0, {0}, s, 256u << 10);
    a.start();
    std::uint64_t last = 0;
    for (int i = 0; i < 150; i += 3) last = a.ingest({evs[i], evs[i + 1], evs[i + 2]});
    REQUIRE(last == 150);
    REQUIRE(a.pump_until_synced(last));
    CHECK(a.driver.close() == 0);  // nothing delivered
  }
  // One flipped byte in the payload of a record in the middle of the second segment.
  const auto files = segments_in(dir);
  REQUIRE(files.size() >= 3);
  auto bytes = spool_test::read_file(files[1].path);
  auto scan = spool::scan_segment(bytes);
  REQUIRE(scan);
  REQUIRE(scan->records.size() >= 3);
  const spool::record_ref victim = scan->records[scan->records.size() / 2];
  bytes[victim.offset + spool::record_header_bytes + victim.length / 2] ^= 0x20;
  spool_test::write_file(files[1].path, bytes);
  const std::uint64_t lost = victim.seq;
  std::vector<std::string> expected;  // in order, without the lost one
  for (std::uint64_t q = 1; q <= 150; ++q)
    if (q != lost) expected.push_back(evs[q - 1]);

  {
    shard_sim b(0, {0}, s, 4096);  // a small ring: the replay goes in pieces
    CHECK(b.m.quarantined_segments.get() == 1);
    CHECK(b.m.quarantined_events.get() == 1);
    CHECK(b.m.quarantined_bytes.get() == spool::record_footprint(victim.length));
    // Deliver exactly the records before the gap, then stop.
    REQUIRE(b.pump([&] { return b.got.size() >= lost - 1; }, 1));
    REQUIRE(b.got.size() == lost - 1);
    b.step();
    CHECK(b.driver.delivered_seq() == lost - 1);
    b.tick();
    REQUIRE(b.pump([&] { return !b.driver.io_in_flight(); }));
    CHECK(b.driver.close() == 0);
    CHECK(acked_on_disk(dir) == lost - 1);
    CHECK(std::vector<std::string>(expected.begin(), expected.begin() + static_cast<long>(lost - 1)) == b.got);
  }
  {
    // The next start resumes right after the gap (the record the acked
    // position points past is gone) and finds nothing new to quarantine.
    shard_sim c(0, {0}, s, 4096);
    CHECK(c.m.quarantined_segments.get() == 0);
    CHECK(c.m.quarantined_events.get() == 0);
    REQUIRE(c.pump_until_received(150 - lost, 5));
    const std::vector<std::string> rest(expected.begin() + static_cast<long>(lost - 1), expected.end());
    CHECK(c.got.size() == rest.size());
    const std::size_t diff = first_difference(c.got, rest);
    CHECK_MESSAGE(diff == rest.size(), "first mismatch at event " << diff);
    CHECK(c.m.replayed_events.get() == rest.size());
    c.step();
    CHECK(c.driver.delivered_seq() == 150);  // across the gap
    CHECK(c.driver.events_waiting() == 0);
    c.tick();
    CHECK(acked_on_disk(dir) == 150);
    CHECK(segments_in(dir).size() == 1);  // every delivered segment went, the damaged one too
    // New events carry on after the old numbers.
    CHECK(c.ingest({event("gap-new-", 0)}) == 151);
  }
  CHECK(spool_test::exists(files[1].path + ".corrupt"));  // the evidence stays
}

TEST_CASE("refusals the output reports by release ordinal become the sequence numbers they had") {
  temp_dir d;
  shard_sim sh(0, {0}, settings_for(d));
  // The output refused the 3rd and 4th records it released (ordinals 2 and 3).
  sh.driver.follow_refusals([](std::uint64_t from, std::uint64_t to, const spool_driver::refused_run& f) {
    if (from < 4 && 2 < to) f(2, 4, 400, "subject is missing");
  });
  sh.start();
  std::vector<std::string> evs;
  for (int i = 1; i <= 6; ++i) evs.push_back(event(i));
  REQUIRE(sh.ingest(evs) == 6);
  REQUIRE(sh.pump_until_received(6));
  sh.step();  // the driver sees what was freed
  CHECK(sh.driver.delivered_seq() == 6);
  const auto r = sh.driver.refused(1, 6);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->detail == "subject is missing");
  CHECK(r->events == 2);
  CHECK(sh.driver.refused(3, 3));
  CHECK_FALSE(sh.driver.refused(1, 2));  // delivered, not refused
  CHECK_FALSE(sh.driver.refused(5, 6));
}
