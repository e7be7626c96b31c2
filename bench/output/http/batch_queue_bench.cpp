// SPDX-License-Identifier: Apache-2.0
// Cost of cutting batches over a full ring whose oldest records left the
// caches long ago, as under a closed-loop load that outruns the upstream (the
// ring sits near its high watermark, tens of MiB behind). Each iteration
// cuts, delivers and releases every record of a 64 MiB ring, then refills it
// (not timed). Checked before timing: the batches cover every record once, in
// order, with the limits' counts and the exact JSON array sizes.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tollgate/output/http/batch_queue.hpp"

namespace {

using tg::ring::event_ring;
using tg::upstream::batch;
using tg::upstream::batch_queue;

constexpr std::size_t ring_bytes = 64u << 20;
constexpr std::size_t event_bytes = 264;
constexpr std::uint32_t batch_events = 500;

// Fills the ring with events of event_bytes (distinct bytes, so none is
// mistaken for another); returns how many.
std::uint64_t fill(event_ring& r) {
  std::uint64_t n = 0;
  char ev[event_bytes];
  std::memset(ev, 'x', sizeof ev);
  for (;;) {
    char* p = r.try_reserve(sizeof ev);
    if (p == nullptr) break;
    std::snprintf(ev, sizeof ev, "{\"id\":\"%012llu\"", static_cast<unsigned long long>(n));
    ev[19] = ',';
    std::memcpy(p, ev, sizeof ev);
    ++n;
  }
  r.commit();
  return n;
}

// Where the record read at `pos` lies in the ring (null when none is there).
const char* first_record(const event_ring& r, std::uint64_t pos) {
  event_ring::record rec;
  return r.read(pos, rec) ? rec.bytes.data() : nullptr;
}

// Cuts and releases every record; returns the events cut, or 0 when a batch
// is not what the limits and the ring say it must be.
std::uint64_t drain(event_ring& r, batch_queue& q, std::uint64_t records) {
  std::uint64_t cut = 0;
  std::uint64_t expect_begin = r.read_begin();
  while (cut < records) {
    batch* b = q.cut(1);  // full batches only: the clock stands still, no linger passes
    if (b == nullptr && records - cut < batch_events) b = q.cut(1000);  // the short tail, by linger
    if (b == nullptr) return 0;
    const std::uint32_t want = static_cast<std::uint32_t>(std::min<std::uint64_t>(batch_events, records - cut));
    // A batch begins where the one before ended; after an early wrap that
    // position lies before the skip and reads on at the first record after it.
    if (first_record(r, b->begin) != first_record(r, expect_begin) || b->events != want ||
        b->body_bytes != 1 + want * (event_bytes + 1)) {
      return 0;
    }
    expect_begin = b->end;
    cut += b->events;
    b->st = batch::state::done;
    q.release_done();
  }
  return r.empty() ? cut : 0;
}

void bm_cut_cold_ring(benchmark::State& state) {
  event_ring r(ring_bytes);
  batch_queue q(r, {batch_events, 1 << 20, 5, 8});
  std::uint64_t records = fill(r);
  if (records == 0 || drain(r, q, records) != records) {
    state.SkipWithError("the batches are not the ring's records cut by the limits");
    return;
  }
  std::uint64_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    records = fill(r);
    state.ResumeTiming();
    const std::uint64_t n = drain(r, q, records);
    if (n != records) {
      state.SkipWithError("lost or misplaced records");
      return;
    }
    events += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}

}  // namespace

BENCHMARK(bm_cut_cold_ring)->Unit(benchmark::kMillisecond);
