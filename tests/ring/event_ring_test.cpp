// SPDX-License-Identifier: Apache-2.0
// Behaviour of the SPSC event ring: framing, wrap-around, all-or-nothing
// admission, and a two-thread run that checks every record arrives intact.
#include <doctest/doctest.h>

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

TEST_CASE("ring carries every record intact between two threads") {
  event_ring r(64 * 1024);
  constexpr int count = 200000;
  std::thread producer([&] {
    for (int i = 0; i < count; ++i) {
      std::string s = "event-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 97), 'z');
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
    std::string expect = "event-" + std::to_string(seen) + std::string(static_cast<std::size_t>(seen % 97), 'z');
    if (std::string_view(rec.bytes.data(), rec.bytes.size()) != expect) ok = false;
    pos = rec.next;
    r.release(pos);
    ++seen;
  }
  producer.join();
  CHECK(ok);
  CHECK(seen == count);
  CHECK(r.empty());
}
