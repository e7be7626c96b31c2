// SPDX-License-Identifier: Apache-2.0
// What shards may know of each other: read-only pointers set before they start
// (for /metrics, which sums every shard) and the stop flag. Nothing here is
// written on the request path.
#pragma once

#include <atomic>
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
  double ready_fill = 0.9;  // /readyz fails while a ring is fuller than this
};

}  // namespace tg::server
