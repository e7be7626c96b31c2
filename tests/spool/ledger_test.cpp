// SPDX-License-Identifier: Apache-2.0
// The ledger maps ring releases back to (directory, sequence number).
#include <doctest/doctest.h>

#include <utility>
#include <vector>

#include "tollgate/spool/ledger.hpp"

using tg::spool::ledger;

namespace {
using hit = std::pair<std::uint32_t, std::uint64_t>;
std::vector<hit> release(ledger& l, std::uint64_t n, std::uint64_t* unknown = nullptr) {
  std::vector<hit> out;
  const std::uint64_t u = l.release(n, [&](std::uint32_t d, std::uint64_t, std::uint64_t s) { out.emplace_back(d, s); });
  if (unknown != nullptr) *unknown = u;
  return out;
}
}  // namespace

TEST_CASE("ledger releases consecutive records of one directory as one position") {
  ledger l;
  for (std::uint64_t s = 5; s <= 9; ++s) l.push(0, s);
  CHECK(l.size() == 5);
  CHECK(release(l, 3) == std::vector<hit>{{0, 7}});
  CHECK(release(l, 2) == std::vector<hit>{{0, 9}});
  CHECK(l.empty());
}

TEST_CASE("ledger reports each directory of a replay in ring order") {
  ledger l;
  l.push(1, 100);  // an old shard's directory being replayed
  l.push(1, 101);
  l.push(0, 1);  // then this shard's own
  l.push(0, 2);
  CHECK(release(l, 3) == std::vector<hit>{{1, 101}, {0, 1}});
  CHECK(release(l, 1) == std::vector<hit>{{0, 2}});
}

TEST_CASE("ledger starts a new run at a gap in the sequence numbers (a quarantined record)") {
  ledger l;
  l.push(0, 1);
  l.push(0, 2);
  l.push(0, 4);  // 3 was damaged and skipped
  CHECK(release(l, 2) == std::vector<hit>{{0, 2}});
  CHECK(release(l, 1) == std::vector<hit>{{0, 4}});
}

TEST_CASE("ledger gives each released piece's first and last sequence number") {
  ledger l;
  for (std::uint64_t s = 10; s <= 14; ++s) l.push(2, s);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pieces;
  l.release(2, [&](std::uint32_t, std::uint64_t f, std::uint64_t t) { pieces.emplace_back(f, t); });
  l.release(3, [&](std::uint32_t, std::uint64_t f, std::uint64_t t) { pieces.emplace_back(f, t); });
  CHECK(pieces == std::vector<std::pair<std::uint64_t, std::uint64_t>>{{10, 11}, {12, 14}});
}

TEST_CASE("ledger says how many released records it never held") {
  ledger l;
  l.push(0, 1);
  std::uint64_t unknown = 0;
  CHECK(release(l, 3, &unknown) == std::vector<hit>{{0, 1}});
  CHECK(unknown == 2);
}
