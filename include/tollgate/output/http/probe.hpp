// SPDX-License-Identifier: Apache-2.0
// The HTTP output's metrics, one probe per shard: batches by outcome, retries,
// splits, delivered and dead-lettered events, connections, batch sizes and
// latency. Written only by its shard's thread, summed on scrape.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/counters.hpp"
#include "tollgate/metrics/histogram.hpp"

namespace tg::upstream {

// Where a batch sent upstream ended, for tollgate_upstream_requests_total.
// Responses are counted by status (index in metrics::statuses, then one slot
// for any other code); failures without a response have their own slots.
inline constexpr std::size_t outcome_other_status = metrics::statuses.size();
inline constexpr std::size_t outcome_network_error = metrics::statuses.size() + 1;
inline constexpr std::size_t outcome_timeout = metrics::statuses.size() + 2;
inline constexpr std::size_t outcome_count = metrics::statuses.size() + 3;

struct probe {
  metrics::counter outcomes[outcome_count];
  metrics::counter unknown_status[6];  // by class (index = status / 100) for codes outside `statuses`
  metrics::counter retries;               // batches scheduled again after a failure
  metrics::counter splits;                // 400 answers that split a batch in halves
  metrics::counter events_delivered;      // events the upstream accepted (2xx)
  metrics::counter events_dead_lettered;  // events written to the dead-letter file
  metrics::counter connects;              // connections opened to the upstream
  metrics::counter connect_failures;
  metrics::histogram<9> batch_events{{1, 10, 50, 100, 200, 500, 1000, 5000, 10000}};
  metrics::histogram<13> latency_seconds{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  metrics::gauge connections_open;
  metrics::gauge backing_off;  // 1 while the shard waits before trying the upstream again
};

// Appends the tollgate_upstream_* and dead-letter families over the shards'
// probes (index = shard for the per-shard gauges).
void render_metrics(std::span<const probe* const> shards, std::string& out);

// One shard's keys in GET /status.json (see output::backend::render_status):
// events out, dead letters, and the upstream's state, connections, retries,
// events waiting, outcomes by status, latency buckets and their p99 bound.
void render_status(const probe& p, std::uint64_t events_accepted, std::string& out);

}  // namespace tg::upstream
