// SPDX-License-Identifier: Apache-2.0
// Behaviour of the SPSC event ring: framing, wrap-around, all-or-nothing
// admission, and a two-thread run that checks every record arrives intact.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tollgate/ring/event_ring.hpp"

using tg::ring::event_ring;

namespace {
bool put(event_ring& r, std::string_view s) {
  char* p = r.try_reserve(s.size());
  if (p == nullptr) return false;
  std::memcpy(p, s.data(), s.size());
  return true;
}

std::vector<std::string> drain(event_ring& r) {
  std::vector<std::string> out;
  event_ring::record rec;
  std::uint64_t pos = r.read_begin();
  while (r.read(pos, rec)) {
    out.emplace_back(rec.bytes.data(), rec.bytes.size());
    pos = rec.next;
  }
  r.release(pos);
  return out;
}

// Writes and drains records of `rec` until the ring has touched `window`
// bytes: it is empty and past its window, so the next record wraps early.
void pass_window(event_ring& r, const std::string& rec, std::size_t window) {
  while (r.touched_bytes() < window) {
    REQUIRE(put(r, rec));
    r.commit();
    drain(r);
  }
}
}  // namespace

TEST_CASE("ring hides reserved records until commit") {
  event_ring r(4096);
  REQUIRE(put(r, "one"));
  CHECK(drain(r).empty());
  r.commit();
  auto got = drain(r);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == "one");
  CHECK(r.empty());
}

TEST_CASE("ring rollback admits nothing of a request") {
  event_ring r(4096);
  REQUIRE(put(r, "a"));
  REQUIRE(put(r, "b"));
  r.rollback();
  r.commit();
  CHECK(drain(r).empty());
  REQUIRE(put(r, "c"));
  r.commit();
  CHECK(drain(r) == std::vector<std::string>{"c"});
}

TEST_CASE("ring refuses a record when full and accepts it once space is released") {
  event_ring r(4096);
  std::string big(1000, 'x');
  int n = 0;
  while (put(r, big)) ++n;
  r.commit();
  CHECK(n == 4);  // 4 * (8 + 1000) fits in 4096; a fifth does not
  CHECK_FALSE(put(r, big));
  auto got = drain(r);
  CHECK(got.size() == 4);
  CHECK(put(r, big));
}

TEST_CASE("ring never splits a record across the end of the buffer") {
  event_ring r(4096);
  std::string rec(600, 'y');
  std::vector<std::string> all;
  for (int round = 0; round < 50; ++round) {
    std::string s = rec + std::to_string(round);
    REQUIRE(put(r, s));
    r.commit();
    auto got = drain(r);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == s);
  }
}

TEST_CASE("ring rejects a record larger than its capacity") {
  event_ring r(4096);
  CHECK(r.try_reserve(5000) == nullptr);
  CHECK(r.try_reserve(4096) == nullptr);
}

// A producer thread puts `count` records of different lengths (padded with
// `pad`, `i % pad_mod` bytes of it) while this thread reads them in order and
// releases after every `release_every`-th; true when each arrived intact.
bool carry_between_threads(event_ring& r, int count, int pad_mod, char pad, int release_every) {
  auto nth = [&](int i) {
    return "event-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % pad_mod), pad);
  };
  std::thread producer([&] {
    for (int i = 0; i < count; ++i) {
      const std::string s = nth(i);
      while (!put(r, s)) std::this_thread::yield();
      r.commit();
    }
  });
  int seen = 0;
  bool ok = true;
  std::uint64_t pos = r.read_begin();
  while (seen < count) {
    event_ring::record rec;
    if (!r.read(pos, rec)) {
      std::this_thread::yield();
      continue;
    }
    if (std::string_view(rec.bytes.data(), rec.bytes.size()) != nth(seen)) ok = false;
    pos = rec.next;
    if (seen % release_every == 0) r.release(pos);
    ++seen;
  }
  r.release(pos);
  producer.join();
  return ok && seen == count;
}

TEST_CASE("ring carries every record intact between two threads") {
  event_ring r(64 * 1024);
  CHECK(carry_between_threads(r, 200000, 97, 'z', 1));
  CHECK(r.empty());
}

// ---- lazy use of memory: early wraps inside the window, pages given back ----


TEST_CASE("ring goes back to offset 0 past its window while the consumer keeps up") {
  event_ring r(256 * 1024, 8 * 1024);
  const std::string rec(300, 'w');
  for (int i = 0; i < 5000; ++i) {
    const std::string s = std::to_string(i) + rec;
    REQUIRE(put(r, s));
    r.commit();
    CHECK(r.used_bytes() == event_ring::footprint(s.size()));  // a skip never counts as used
    auto got = drain(r);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == s);
    CHECK(r.empty());
  }
  // 5000 records went through (1.6 MB), but only the window and one record past it were written.
  CHECK(r.touched_bytes() <= 8 * 1024 + event_ring::footprint(rec.size() + 8));
  CHECK(r.resident_bytes() <= 16 * 1024);  // of 256 KiB: the rest was never faulted in
}

TEST_CASE("ring with a consumer that holds records still uses its whole capacity") {
  event_ring r(64 * 1024, 8 * 1024);
  const std::string rec(1000, 'h');
  // Push past the window first, released, so the held records start beyond it.
  for (int i = 0; i < 10; ++i) REQUIRE(put(r, rec));
  r.commit();
  CHECK(drain(r).size() == 10);
  int n = 0;
  while (put(r, rec)) ++n;
  r.commit();
  CHECK(n >= static_cast<int>(64 * 1024 / event_ring::footprint(rec.size())) - 1);
  CHECK(drain(r).size() == static_cast<std::size_t>(n));
}

TEST_CASE("a cursor left before an early wrap reads on at the first record after it") {
  event_ring r(64 * 1024, 4 * 1024);
  const std::string rec(500, 'c');
  pass_window(r, rec, 4 * 1024);
  const std::uint64_t stale = r.read_begin();  // a consumer's cursor, at the end of what it read
  // The ring is empty and past its window: the next records start at offset 0,
  // and enough of them follow to overwrite the old offset of `stale`.
  std::vector<std::string> sent;
  for (int i = 0; i < 40; ++i) {
    sent.push_back(std::to_string(i) + rec);
    REQUIRE(put(r, sent.back()));
    r.commit();
  }
  CHECK(r.read_begin() > stale);
  CHECK(r.used_bytes() == 40 * event_ring::footprint(sent[0].size()));
  std::vector<std::string> got;
  event_ring::record out;
  for (std::uint64_t pos = stale; r.read(pos, out); pos = out.next) {
    got.emplace_back(out.bytes.data(), out.bytes.size());
  }
  CHECK(got.size() == sent.size());
  CHECK(got == sent);
  r.release(stale);  // a late release of the old position does not move the tail back
  CHECK(r.read_begin() > stale);
  CHECK(drain(r) == sent);
}

TEST_CASE("ring forgets an early wrap that is rolled back") {
  event_ring r(64 * 1024, 4 * 1024);
  const std::string rec(700, 'r');
  pass_window(r, rec, 4 * 1024);
  const std::uint64_t before = r.read_begin();
  REQUIRE(put(r, "dropped"));
  r.rollback();
  CHECK(r.read_begin() == before);
  CHECK(r.used_bytes() == 0);
  REQUIRE(put(r, "kept"));
  r.commit();
  CHECK(drain(r) == std::vector<std::string>{"kept"});
  CHECK(r.empty());
}

TEST_CASE("ring gives back the pages a burst touched once it wraps early again") {
  constexpr std::size_t cap = 64u << 20, window = 1u << 20;
  event_ring r(cap, window);
  const std::string rec(4000, 'b');
  const std::size_t base = r.resident_bytes();
  // A burst the consumer does not keep up with: 32 MiB held, then released.
  std::size_t held = 0;
  while (held < (32u << 20)) {
    REQUIRE(put(r, rec));
    r.commit();
    held += event_ring::footprint(rec.size());
  }
  const std::size_t burst = r.resident_bytes();
  CHECK(burst >= base + (24u << 20));
  CHECK(drain(r).size() == held / event_ring::footprint(rec.size()));
  CHECK(r.give_backs() == 0);
  // The next lap starts at offset 0 (the lap that ended was the burst's own);
  // once laps of ordinary size follow, what the burst touched beyond them goes.
  // Recent laps are remembered, less by an eighth at each trim() (the
  // shard's tick; here one per record): the pages go back in steps.
  int laps = 0;
  for (int i = 0; i < 20000 && r.touched_bytes() > 2 * window + event_ring::footprint(rec.size()); ++i) {
    REQUIRE(put(r, rec));
    r.commit();
    REQUIRE(drain(r).size() == 1);
    r.trim();
    ++laps;
  }
  CHECK(r.give_backs() >= 1);
  CHECK(laps > static_cast<int>(window / event_ring::footprint(rec.size())));
  CHECK(r.touched_bytes() <= 2 * window + event_ring::footprint(rec.size()));
  CHECK(r.resident_bytes() + (24u << 20) <= burst);
  REQUIRE(put(r, "after the burst"));
  r.commit();
  CHECK(drain(r) == std::vector<std::string>{"after the burst"});
}

TEST_CASE("ring gives back what a burst touched once it stays idle and empty") {
  constexpr std::size_t cap = 64u << 20, window = 1u << 20;
  event_ring r(cap, window);
  const std::string rec(4000, 'i');
  std::size_t held = 0;
  while (held < (32u << 20)) {
    REQUIRE(put(r, rec));
    r.commit();
    held += event_ring::footprint(rec.size());
  }
  const std::size_t burst = r.resident_bytes();
  const std::uint64_t stale = r.read_begin();
  r.trim();  // records are held: nothing to give back
  CHECK(r.give_backs() == 0);
  CHECK(drain(r).size() == held / event_ring::footprint(rec.size()));
  r.trim();  // idle and empty now
  CHECK(r.give_backs() == 1);
  CHECK(r.touched_bytes() <= window);
  CHECK(r.resident_bytes() + (24u << 20) <= burst);
  CHECK(r.empty());
  CHECK(r.used_bytes() == 0);
  event_ring::record out;
  CHECK_FALSE(r.read(stale, out));
  REQUIRE(put(r, "next"));
  r.commit();
  REQUIRE(r.read(stale, out));  // a cursor from before the trim reads on at the next record
  CHECK(std::string_view(out.bytes.data(), out.bytes.size()) == "next");
  CHECK(drain(r) == std::vector<std::string>{"next"});
}

TEST_CASE("ring whose consumer always holds some records gives back the released pages behind it") {
  constexpr std::size_t cap = 64u << 20, window = 1u << 20;
  event_ring r(cap, window);
  const std::string rec(4000, 'f');
  const std::size_t base = r.resident_bytes();
  std::size_t peak = 0;
  std::uint64_t cursor = r.read_begin();  // the consumer's next read; it releases 64 records behind it
  std::vector<std::uint64_t> behind;
  bool intact = true;
  std::uint64_t seq = 0, seen = 0;
  for (int i = 0; i < 40000; ++i) {  // 160 MB: two and a half laps
    char* p = r.try_reserve(rec.size());
    REQUIRE(p != nullptr);
    std::memcpy(p, rec.data(), rec.size());
    std::memcpy(p, &seq, sizeof seq);
    ++seq;
    r.commit();
    event_ring::record out;
    while (r.read(cursor, out)) {
      std::uint64_t got;
      std::memcpy(&got, out.bytes.data(), sizeof got);
      intact = intact && got == seen && out.bytes.size() == rec.size() && out.bytes.back() == 'f';
      ++seen;
      cursor = out.next;
      behind.push_back(cursor);
    }
    if (behind.size() > 64) {
      r.release(behind[behind.size() - 65]);  // never empty: 64 records stay in flight
      behind.erase(behind.begin(), behind.end() - 64);
    }
    if (i % 256 == 0) {
      r.trim();  // the tick
      peak = std::max(peak, r.resident_bytes());
    }
  }
  CHECK(intact);
  CHECK(seen == seq);
  CHECK(r.give_backs() > 0);
  // Without giving back, the whole 64 MiB would be resident after the first lap.
  CHECK(peak < base + (16u << 20));
}

TEST_CASE("ring carries every record intact between two threads across early wraps") {
  event_ring r(64 * 1024, 8 * 1024);
  // Sometimes a few records are held, so some wraps happen and some do not.
  CHECK(carry_between_threads(r, 200000, 211, 'q', 3));
  CHECK(r.empty());
}
