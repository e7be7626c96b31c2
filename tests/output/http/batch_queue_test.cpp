// SPDX-License-Identifier: Apache-2.0
// Batches over a real event ring: cut on count, bytes or linger; at most one
// queued and max_in_flight in flight; split in place; release in ring order.
#include <doctest/doctest.h>

#include <string>

#include "tollgate/output/http/batch_queue.hpp"

using namespace tg;
using upstream::batch;
using upstream::batch_limits;
using upstream::batch_queue;

namespace {
void put(ring::event_ring& r, int n, std::size_t size = 20) {
  for (int i = 0; i < n; ++i) {
    const std::string e(size, static_cast<char>('a' + i % 26));
    char* dst = r.try_reserve(e.size());
    REQUIRE(dst != nullptr);
    std::copy(e.begin(), e.end(), dst);
    r.commit();
  }
}
}  // namespace

TEST_CASE("batch queue cuts a full batch at once and a partial one only after the linger") {
  ring::event_ring r(1 << 16);
  batch_queue q(r, batch_limits{3, 1 << 20, 5, 8});
  put(r, 4);
  batch* b = q.cut(100);
  REQUIRE(b != nullptr);
  CHECK(b->events == 3);
  CHECK(b->body_bytes == 2 + 3 * 20 + 2);  // "[" a "," b "," c "]"
  b->st = batch::state::inflight;
  CHECK(q.cut(101) == nullptr);  // one left over, lingering since 100
  CHECK(q.pending_since() == 100);
  batch* rest = q.cut(105);
  REQUIRE(rest != nullptr);
  CHECK(rest->events == 1);
}

TEST_CASE("batch queue closes a batch before it would pass max bytes") {
  ring::event_ring r(1 << 16);
  batch_queue q(r, batch_limits{500, 2 + 20 + 1 + 20, 0, 8});  // room for exactly two
  put(r, 5);
  batch* b = q.cut(0);
  REQUIRE(b != nullptr);
  CHECK(b->events == 2);
}

TEST_CASE("batch queue cuts nothing while a cut batch is still queued or max_in_flight are out") {
  ring::event_ring r(1 << 16);
  batch_queue q(r, batch_limits{1, 1 << 20, 0, 2});
  put(r, 5);
  batch* a = q.cut(0);
  REQUIRE(a != nullptr);
  CHECK(q.cut(0) == nullptr);  // `a` is queued, not yet sent
  a->st = batch::state::inflight;
  batch* b = q.cut(0);
  REQUIRE(b != nullptr);
  b->st = batch::state::inflight;
  CHECK_FALSE(q.can_cut());  // two in flight
  CHECK(q.cut(0) == nullptr);
}

TEST_CASE("batch queue splits a batch in place and releases the ring only from the front") {
  ring::event_ring r(1 << 16);
  batch_queue q(r, batch_limits{4, 1 << 20, 0, 8});
  put(r, 8);
  batch* first = q.cut(0);
  REQUIRE(first != nullptr);
  first->st = batch::state::inflight;
  batch* second = q.cut(0);
  REQUIRE(second != nullptr);
  const std::uint64_t first_id = first->id;
  q.split(*q.find(first_id), 7);
  REQUIRE(q.batches().size() == 3);
  CHECK(q.batches()[0].events == 2);
  CHECK(q.batches()[1].events == 2);
  CHECK(q.batches()[1].begin == q.batches()[0].end);
  CHECK(q.batches()[1].not_before == 7);
  CHECK(q.batches()[0].body_bytes == 0);  // measured again when sent
  // The last one done first frees nothing: the ring frees in order.
  q.batches()[2].st = batch::state::done;
  CHECK(q.release_done() == 0);
  q.batches()[0].st = batch::state::done;
  CHECK(q.release_done() == 2);
  q.batches()[0].st = batch::state::done;
  CHECK(q.release_done() == 6);
  CHECK(q.released() == 8);
  CHECK(r.empty());
}
