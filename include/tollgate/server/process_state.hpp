// SPDX-License-Identifier: Apache-2.0
// What shards may know of each other: read-only pointers set before they start
// (for /metrics, which sums every shard) and the stop flag. Nothing here is
// written on the request path.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "tollgate/metrics/counters.hpp"
#include "tollgate/ring/event_ring.hpp"

namespace tg::server {

struct process_state {
  std::atomic<bool> stopping{false};
  std::vector<metrics::shard_metrics*> shard_metrics;  // index = shard
  std::vector<ring::event_ring*> rings;                // index = shard
  metrics::output_metrics* output = nullptr;
  double start_time_seconds = 0;
  std::uint64_t spool_shard_max_bytes = 0;  // with a spool: each shard's share of --spool-max-bytes
  bool upstream = false;    // the ring consumer is the HTTP upstream (metrics show its families)
  std::atomic<std::uint64_t> events_left{0};  // summed by shards that stop with undelivered events
};

}  // namespace tg::server
