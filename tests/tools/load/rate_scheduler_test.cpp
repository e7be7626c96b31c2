// SPDX-License-Identifier: Apache-2.0
// The open-loop schedule: each connection evenly spaced C/R apart, the merged
// stream evenly spaced 1/R apart, exactly R requests intended per second, and
// due_before() counting exactly the requests intended before a time.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "rate_scheduler.hpp"

using tg::load::rate_scheduler;

TEST_CASE("each connection's requests are evenly spaced, connections/rate apart") {
  const double rate = 1000;
  const std::uint32_t conns = 8;
  const std::uint64_t start = 5'000'000'000;
  rate_scheduler s(rate, conns, start);
  for (std::uint32_t c = 0; c < conns; ++c) {
    CHECK(s.intended(c, 0) == start + c * 1'000'000);  // offsets 1/R apart
    for (std::uint64_t k = 1; k < 1000; ++k) CHECK(s.intended(c, k) - s.intended(c, k - 1) == 8'000'000);
  }
}

TEST_CASE("the merged stream has one request every 1/rate and R per second") {
  for (double rate : {500.0, 1234.5, 100000.0}) {
    for (std::uint32_t conns : {1u, 7u, 64u}) {
      CAPTURE(rate);
      CAPTURE(conns);
      rate_scheduler s(rate, conns, 0);
      std::vector<std::uint64_t> times;
      const std::uint64_t second = 1'000'000'000;
      for (std::uint32_t c = 0; c < conns; ++c)
        for (std::uint64_t k = 0; s.intended(c, k) < 3 * second; ++k) times.push_back(s.intended(c, k));
      std::sort(times.begin(), times.end());
      // Every second of the schedule holds R requests (rounded either way).
      for (std::uint64_t sec = 0; sec < 3; ++sec) {
        const auto n = std::count_if(times.begin(), times.end(),
                                     [&](std::uint64_t t) { return t >= sec * second && t < (sec + 1) * second; });
        CHECK(std::abs(static_cast<double>(n) - rate) <= 1.0);
      }
      // Consecutive requests of the merged stream are 1/R apart (to the ns).
      for (std::size_t i = 1; i < times.size(); ++i)
        CHECK(std::abs(static_cast<double>(times[i] - times[i - 1]) - s.interval_ns()) <= 1.0);
      CHECK(s.due_before(3 * second) == times.size());
    }
  }
}

TEST_CASE("due_before counts the requests intended strictly before a time") {
  rate_scheduler s(3.0, 2, 100);  // one request every 333333333.33 ns
  CHECK(s.due_before(100) == 0);
  CHECK(s.due_before(101) == 1);
  CHECK(s.due_before(100 + 333'333'333) == 1);
  CHECK(s.due_before(100 + 333'333'334) == 2);
  CHECK(s.due_before(100 + 1'000'000'000) == 3);
  CHECK(s.due_before(100 + 1'000'000'001) == 4);
  CHECK(s.sequence(1, 2) == 5);
}

TEST_CASE("a long schedule does not drift") {
  rate_scheduler s(7.0, 3, 0);
  // A day of requests later, the time is still exactly sequence / rate.
  const std::uint64_t k = 7 * 86400 / 3;
  const double expected = static_cast<double>(s.sequence(2, k)) * 1e9 / 7.0;
  CHECK(std::abs(static_cast<double>(s.intended(2, k)) - expected) <= 1.0);
}
