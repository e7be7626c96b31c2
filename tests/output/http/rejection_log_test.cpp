// SPDX-License-Identifier: Apache-2.0
// The bounded record of ring ranges the upstream refused: what --ack upstream
// asks before it answers 204 (issue 16: a dead-lettered event was answered as delivered).
#include <doctest/doctest.h>

#include <string>

#include "tollgate/output/http/rejection_log.hpp"

using namespace tg::upstream;

TEST_CASE("rejection log: a range that overlaps a refused one names its status, detail and events") {
  rejection_log log;
  log.add(100, 200, 1, 400, "invalid event: subject");
  log.add(300, 350, 2, 422, "unprocessable");
  auto r = log.find(50, 150);
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->detail == "invalid event: subject");
  CHECK(r->events == 1);
  auto both = log.find(0, 1000);
  REQUIRE(both);
  CHECK(both->status == 400);  // the first refusal is the one named
  CHECK(both->events == 3);
  CHECK_FALSE(log.find(200, 300));  // touching ends do not overlap
  CHECK_FALSE(log.find(0, 100));
  CHECK_FALSE(log.find(350, 400));
}

TEST_CASE("rejection log: a detail is cut to its bound") {
  rejection_log log;
  log.add(0, 10, 1, 400, std::string(1000, 'x'));
  auto r = log.find(0, 10);
  REQUIRE(r);
  CHECK(r->detail.size() == rejection_log::max_detail);
}

TEST_CASE("rejection log: a released range is kept through the next poll and forgotten at the one after") {
  rejection_log log;
  log.prune(0);
  log.add(100, 200, 1, 400, "bad");
  log.prune(100);  // poll k: not released yet
  log.prune(100);  // poll k+1: released during k+1 (read_begin passes 200 after this call)
  CHECK(log.find(100, 200));
  log.prune(250);  // poll k+2: released after the previous call, the front door has asked since
  CHECK(log.find(100, 200));
  log.prune(250);  // poll k+3: released before the previous call
  CHECK_FALSE(log.find(100, 200));
  CHECK(log.size() == 0);
}

TEST_CASE("rejection log: past its capacity the oldest ranges are answered as refused with status 0, never as delivered") {
  rejection_log log;
  for (std::uint64_t i = 0; i < rejection_log::capacity + 3; ++i) log.add(i * 10, i * 10 + 5, 1, 400, "bad");
  CHECK(log.size() == rejection_log::capacity);
  auto lost = log.find(10, 15);  // evicted
  REQUIRE(lost);
  CHECK(lost->status == 0);
  CHECK(lost->events == 0);
  CHECK_FALSE(lost->detail.empty());
  auto kept = log.find(rejection_log::capacity * 10, rejection_log::capacity * 10 + 5);
  REQUIRE(kept);
  CHECK(kept->status == 400);
  // The lost hull spans the gaps between evicted ranges: conservative.
  CHECK(log.find(6, 9));
  CHECK_FALSE(log.find(10000, 10001));
  log.prune(1000000);
  log.prune(1000000);
  CHECK_FALSE(log.find(10, 15));
  CHECK(log.size() == 0);
}
