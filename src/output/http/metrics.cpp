// SPDX-License-Identifier: Apache-2.0
// The HTTP output's metric families.
#include "tollgate/metrics/exposition.hpp"
#include "tollgate/output/http/probe.hpp"

namespace tg::upstream {

void render_metrics(std::span<const probe* const> shards, std::string& out) {
  using metrics::counter;
  using metrics::statuses;
  metrics::head(out, "tollgate_upstream_requests_total", "counter",
                "Batches sent upstream, by outcome: the HTTP status, or network_error / timeout.");
  for (std::size_t i = 0; i < outcome_count; ++i) {
    if (i == outcome_other_status) {
      for (std::size_t c = 1; c < 6; ++c) {
        const std::uint64_t k = metrics::sum(shards, [&](const probe& p) { return p.unknown_status[c].get(); });
        if (k > 0) metrics::sample(out, "tollgate_upstream_requests_total", "status=\"" + std::to_string(c) + "xx\"", k);
      }
      continue;
    }
    const std::uint64_t n = metrics::sum(shards, [&](const probe& p) { return p.outcomes[i].get(); });
    if (n == 0) continue;
    const std::string label = i == outcome_network_error ? "network_error" : i == outcome_timeout ? "timeout" : std::to_string(statuses[i]);
    metrics::sample(out, "tollgate_upstream_requests_total", "status=\"" + label + "\"", n);
  }
  struct row {
    const char* name;
    const char* help;
    const counter probe::*member;
  };
  static const row rows[] = {
      {"tollgate_upstream_retries_total", "Batches scheduled again after a failed attempt.", &probe::retries},
      {"tollgate_upstream_splits_total", "Batches split in halves after a 400 from the upstream.", &probe::splits},
      {"tollgate_upstream_events_delivered_total", "Events the upstream accepted.", &probe::events_delivered},
      {"tollgate_dead_lettered_events_total", "Events written to the dead-letter file (rejected by the upstream on their own).",
       &probe::events_dead_lettered},
      {"tollgate_upstream_connects_total", "Connections opened to the upstream.", &probe::connects},
      {"tollgate_upstream_connect_failures_total", "Failed connection attempts (connect, TLS handshake, DNS).",
       &probe::connect_failures},
  };
  for (const row& r : rows) {
    metrics::head(out, r.name, "counter", r.help);
    metrics::sample(out, r.name, {}, metrics::sum(shards, [&](const probe& p) { return (p.*r.member).get(); }));
  }
  metrics::head(out, "tollgate_upstream_batch_events", "histogram", "Events per batch sent upstream.");
  metrics::histogram_samples(out, "tollgate_upstream_batch_events", shards,
                             [](const probe& p) -> const auto& { return p.batch_events; });
  metrics::head(out, "tollgate_upstream_latency_seconds", "histogram", "Time from sending a batch to its response.");
  metrics::histogram_samples(out, "tollgate_upstream_latency_seconds", shards,
                             [](const probe& p) -> const auto& { return p.latency_seconds; });
  metrics::head(out, "tollgate_upstream_backing_off", "gauge", "1 while a shard waits before trying the upstream again.");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::int64_t b = shards[i]->backing_off.get();
    metrics::sample(out, "tollgate_upstream_backing_off", metrics::shard_label(i), static_cast<std::uint64_t>(b > 0 ? b : 0));
  }
}

}  // namespace tg::upstream
