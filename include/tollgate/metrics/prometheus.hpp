// SPDX-License-Identifier: Apache-2.0
// Renders the Prometheus text exposition format (version 0.0.4) from every
// shard's counters. Runs on whichever shard serves GET /metrics.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "tollgate/metrics/counters.hpp"

namespace tg::metrics {

// What one shard contributes to a scrape.
struct shard_view {
  const shard_metrics* counters = nullptr;
  std::size_t ring_used_bytes = 0;
  std::size_t ring_capacity_bytes = 0;
};

struct process_view {
  std::span<const shard_view> shards;
  const output_metrics* output = nullptr;
  double start_time_seconds = 0;  // unix time the process started
  bool ready = true;
  bool upstream = false;  // an HTTP upstream is configured: render the tollgate_upstream_* families
  bool spool = false;     // a spool is configured: render the tollgate_spool_* families
};

// Appends the exposition text to out.
void render(const process_view& view, std::string& out);

}  // namespace tg::metrics
