// SPDX-License-Identifier: Apache-2.0
// Cost of the event ring per accepted event: reserve + copy + commit on the
// producer side, read + release on the consumer side, for typical ~300-byte
// event records. Single-threaded (the pure bookkeeping cost) and with the
// consumer on a second thread (the cache-line traffic between a shard and its
// output). Every benchmark checks what came out of the ring before it counts.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tollgate/ring/event_ring.hpp"

namespace {

using tg::ring::event_ring;

constexpr std::size_t ring_bytes = 1 << 20;  // 1 MiB: ~3,000 records in flight

// A 300-byte event like the ones tollgate accepts (seed generator's shape).
std::string typical_event() {
  std::string e =
      R"({"specversion":"1.0","id":"0191b7a2-5e3c-7d4f-9a1b-2c3d4e5f6a7b","type":"api-calls",)"
      R"("source":"api-gateway","subject":"customer-42","time":"2026-11-24T02:52:34.096Z",)"
      R"("data":{"method":"POST","path":"/api/v1/items","region":"us-east-2","zone":"us-east-2a",)"
      R"("duration_ms":931,"status":200,"bytes":1024}})";
  e.resize(300, ' ');  // pad with JSON whitespace to exactly 300 bytes
  return e;
}

// Writes `seq` into the record's first 8 bytes so the consumer can check
// order and loss; the rest is the event's bytes.
inline void fill(char* dst, const std::string& ev, std::uint64_t seq) {
  std::memcpy(dst, ev.data(), ev.size());
  std::memcpy(dst, &seq, sizeof seq);
}

inline bool check(const event_ring::record& r, const std::string& ev, std::uint64_t seq) {
  std::uint64_t got;
  if (r.bytes.size() != ev.size()) return false;
  std::memcpy(&got, r.bytes.data(), sizeof got);
  return got == seq && r.bytes.back() == ev.back();
}

// One request of `k` events: reserve and copy each, commit once; then the
// consumer reads them all and releases. Returns false on any mismatch.
bool round_trip(event_ring& ring, const std::string& ev, int k, std::uint64_t& seq) {
  for (int i = 0; i < k; ++i) {
    char* p = ring.try_reserve(ev.size());
    if (p == nullptr) return false;
    fill(p, ev, seq + static_cast<std::uint64_t>(i));
  }
  ring.commit();
  std::uint64_t pos = ring.read_begin();
  event_ring::record r;
  for (int i = 0; i < k; ++i) {
    if (!ring.read(pos, r) || !check(r, ev, seq + static_cast<std::uint64_t>(i))) return false;
    pos = r.next;
  }
  if (ring.read(pos, r)) return false;  // nothing beyond what was committed
  ring.release(pos);
  seq += static_cast<std::uint64_t>(k);
  return ring.empty();
}

// Single thread, `k` events per commit (1: single-event requests, 100: batches).
void bm_ring_round_trip(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  const std::string ev = typical_event();
  event_ring ring(ring_bytes);
  std::uint64_t seq = 0;
  // Check first, across several wrap-arounds of the buffer.
  for (int i = 0; i < 4 * static_cast<int>(ring_bytes / ev.size()) / k + 4; ++i) {
    if (!round_trip(ring, ev, k, seq)) {
      state.SkipWithError("ring returned different records than were committed");
      return;
    }
  }
  for (auto _ : state) {
    if (!round_trip(ring, ev, k, seq)) {
      state.SkipWithError("ring returned different records than were committed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * k);
  state.SetBytesProcessed(state.iterations() * k * static_cast<std::int64_t>(ev.size()));
}

// Producer (the benchmark thread) and consumer (a second thread), as between
// a shard and its output. The producer commits every `k` records and spins
// while the ring is full; the consumer reads everything published, checks the
// sequence, and releases what it read. Both yield when they must wait, so a
// busy machine slows the figure rather than breaking it. Timed in wall-clock
// time; the records are checked after the timed loop.
void bm_ring_producer_consumer(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  constexpr int per_iteration = 1000;  // records produced per timed iteration
  const std::string ev = typical_event();
  event_ring ring(ring_bytes);
  std::atomic<std::uint64_t> total{~std::uint64_t{0}};  // set when the producer is done
  std::atomic<bool> bad{false};
  std::uint64_t consumed = 0;

  std::thread consumer([&] {
    std::uint64_t pos = ring.read_begin();
    event_ring::record r;
    for (;;) {
      bool any = false;
      while (ring.read(pos, r)) {
        if (!check(r, ev, consumed)) bad.store(true, std::memory_order_relaxed);
        pos = r.next;
        ++consumed;
        any = true;
      }
      if (any) {
        ring.release(pos);
      } else if (consumed == total.load(std::memory_order_acquire)) {
        return;
      } else {
        std::this_thread::yield();  // let the producer run if we share a core
      }
    }
  });

  std::uint64_t seq = 0;
  std::uint64_t full_waits = 0;
  auto produce = [&](int n) {
    for (int i = 0; i < n; ++i) {
      char* p;
      while ((p = ring.try_reserve(ev.size())) == nullptr) {
        ring.commit();  // publish what we have so the consumer can make room
        ++full_waits;
        std::this_thread::yield();  // let the consumer run if we share a core
      }
      fill(p, ev, seq++);
      if (seq % static_cast<std::uint64_t>(k) == 0) ring.commit();
    }
  };
  for (auto _ : state) produce(per_iteration);
  ring.commit();
  total.store(seq, std::memory_order_release);
  consumer.join();

  if (bad.load() || consumed != seq || !ring.empty()) {
    state.SkipWithError("consumer saw records out of order, altered or lost");
    return;
  }
  state.counters["full_waits"] = static_cast<double>(full_waits);
  state.SetItemsProcessed(state.iterations() * per_iteration);
  state.SetBytesProcessed(state.iterations() * per_iteration * static_cast<std::int64_t>(ev.size()));
}

}  // namespace

BENCHMARK(bm_ring_round_trip)->Arg(1)->Arg(100);
BENCHMARK(bm_ring_producer_consumer)->Arg(1)->Arg(100)->UseRealTime();
