// SPDX-License-Identifier: Apache-2.0
// In-order release: deliveries complete in any order, the ring is released
// only up to the longest done prefix, stale reports change nothing, and the
// bound on records in flight holds.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "tollgate/output/kafka/release_tracker.hpp"

using tg::kafka::release_tracker;

namespace {
// Record i spans [16 i, 16 (i + 1)) in the ring.
std::uint64_t push(release_tracker& t, std::uint64_t i) { return t.push(16 * i, 16 * (i + 1), 1000 + i); }
}  // namespace

TEST_CASE("release waits for the oldest record and then takes the whole done prefix") {
  release_tracker t(8);
  for (std::uint64_t i = 0; i < 4; ++i) CHECK(push(t, i) == i);
  CHECK(t.in_flight() == 4);
  CHECK(t.complete(2));
  CHECK(t.complete(1));
  CHECK_FALSE(t.pop_done().has_value());  // 0 is still out
  CHECK(t.released() == 0);
  CHECK(t.complete(0));
  const auto upto = t.pop_done();
  REQUIRE(upto.has_value());
  CHECK(*upto == 48);  // the end of record 2
  CHECK(t.released() == 3);
  CHECK(t.in_flight() == 1);
  CHECK_FALSE(t.pop_done().has_value());
  CHECK(t.complete(3));
  CHECK(t.pop_done() == std::optional<std::uint64_t>(64));
  CHECK(t.empty());
}

TEST_CASE("a report for a record that is done, released or never pushed changes nothing") {
  release_tracker t(4);
  push(t, 0);
  push(t, 1);
  CHECK(t.complete(1));
  CHECK_FALSE(t.complete(1));  // duplicate
  CHECK_FALSE(t.complete(7));  // never pushed
  CHECK(t.complete(0));
  CHECK(t.pop_done() == std::optional<std::uint64_t>(32));
  CHECK_FALSE(t.complete(0));  // released
  CHECK_FALSE(t.pending(0));
  CHECK(t.released() == 2);
}

TEST_CASE("the tracker is full at its capacity and slots are reused after release") {
  release_tracker t(3);
  for (std::uint64_t i = 0; i < 3; ++i) push(t, i);
  CHECK(t.full());
  CHECK(t.complete(0));
  CHECK(t.full());  // done but not popped: still in flight
  CHECK(t.pop_done().has_value());
  CHECK_FALSE(t.full());
  CHECK(push(t, 3) == 3);
  CHECK(t.begin_of(3) == 48);
  CHECK(t.stamp_of(3) == 1003);
  CHECK(t.pending(1));
  CHECK(t.begin_of(1) == 16);
  t.restamp(1, 5);
  CHECK(t.stamp_of(1) == 5);
}

TEST_CASE("unpush takes back only the last push") {
  release_tracker t(4);
  push(t, 0);
  const auto s = push(t, 1);
  t.unpush();
  CHECK(t.in_flight() == 1);
  CHECK_FALSE(t.pending(s));
  CHECK(push(t, 1) == s);  // the same record gets the same sequence number again
}

TEST_CASE("any completion order releases every record exactly once and in order") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    release_tracker t(64);
    const std::uint64_t n = 1 + rng() % 200;
    std::uint64_t pushed = 0, last_release = 0;
    std::vector<std::uint64_t> out;
    while (t.released() < n) {
      while (pushed < n && !t.full()) out.push_back(push(t, pushed++));
      std::shuffle(out.begin(), out.end(), rng);
      const std::size_t k = 1 + rng() % out.size();
      for (std::size_t i = 0; i < k; ++i) REQUIRE(t.complete(out[i]));
      out.erase(out.begin(), out.begin() + static_cast<long>(k));
      if (auto upto = t.pop_done()) {
        REQUIRE(*upto > last_release);
        REQUIRE(*upto == 16 * t.released());  // exactly the end of the last released record
        last_release = *upto;
      }
      for (std::uint64_t s : out) REQUIRE(t.pending(s));
    }
    CHECK(t.empty());
    CHECK(last_release == 16 * n);
  }
}
