// SPDX-License-Identifier: Apache-2.0
// The pass-through's metric families (tollgate_proxy_*).
#include "tollgate/metrics/exposition.hpp"
#include "tollgate/server/proxy_probe.hpp"

namespace tg::server {

method_class classify_method(http::method m) noexcept {
  return m == http::method::get || m == http::method::head || m == http::method::options ? method_class::read
                                                                                           : method_class::write;
}

const char* proxy_failure_name(proxy_failure f) noexcept {
  switch (f) {
    case proxy_failure::connect: return "connect";
    case proxy_failure::tls: return "tls";
    case proxy_failure::network: return "network";
    case proxy_failure::closed: return "closed";
    case proxy_failure::timeout: return "timeout";
    case proxy_failure::bad_response: return "bad_response";
    case proxy_failure::client_gone: return "client_gone";
  }
  return "unknown";
}

void render_proxy_metrics(std::span<const proxy_probe* const> shards, std::string& out) {
  using metrics::head;
  using metrics::sample;
  using metrics::sum;
  head(out, "tollgate_proxy_requests_total", "counter",
       "Requests passed through to the upstream's API, by method (read: GET, HEAD, OPTIONS; write: the rest) and "
       "status class of the answer (502/504 written by tollgate included).");
  static const char* const classes[] = {"read", "write"};
  for (std::size_t m = 0; m < method_class_count; ++m) {
    for (std::size_t c = 1; c <= 5; ++c) {
      sample(out, "tollgate_proxy_requests_total",
             std::string("method=\"") + classes[m] + "\",code=\"" + std::to_string(c) + "xx\"",
             sum(shards, [&](const proxy_probe& p) { return p.requests[m][c].get(); }));
    }
  }
  head(out, "tollgate_proxy_failures_total", "counter",
       "Passed-through requests the upstream did not answer in full, by reason (client_gone: the client closed "
       "first).");
  for (std::size_t f = 0; f < proxy_failure_count; ++f) {
    sample(out, "tollgate_proxy_failures_total",
           std::string("reason=\"") + proxy_failure_name(static_cast<proxy_failure>(f)) + "\"",
           sum(shards, [&](const proxy_probe& p) { return p.failures[f].get(); }));
  }
  head(out, "tollgate_proxy_upstream_latency_seconds", "histogram",
       "Time from sending a passed-through request upstream to the head of its answer.");
  metrics::histogram_samples(out, "tollgate_proxy_upstream_latency_seconds", shards,
                             [](const proxy_probe& p) -> const auto& { return p.latency_seconds; });
  head(out, "tollgate_proxy_request_bytes_total", "counter", "Bytes of passed-through requests sent upstream.");
  sample(out, "tollgate_proxy_request_bytes_total", {}, sum(shards, [](const proxy_probe& p) { return p.request_bytes.get(); }));
  head(out, "tollgate_proxy_response_bytes_total", "counter", "Bytes of answers received from the upstream's API.");
  sample(out, "tollgate_proxy_response_bytes_total", {},
         sum(shards, [](const proxy_probe& p) { return p.response_bytes.get(); }));
  head(out, "tollgate_proxy_connects_total", "counter", "Connections the pass-through opened to the upstream.");
  sample(out, "tollgate_proxy_connects_total", {}, sum(shards, [](const proxy_probe& p) { return p.connects.get(); }));
  head(out, "tollgate_proxy_retries_total", "counter",
       "Idempotent requests sent once more after a reused connection turned out closed.");
  sample(out, "tollgate_proxy_retries_total", {}, sum(shards, [](const proxy_probe& p) { return p.retries.get(); }));
  head(out, "tollgate_proxy_in_flight", "gauge", "Passed-through requests not yet answered in full, per shard.");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::int64_t n = shards[i]->in_flight.get();
    sample(out, "tollgate_proxy_in_flight", metrics::shard_label(i), static_cast<std::uint64_t>(n < 0 ? 0 : n));
  }
  head(out, "tollgate_proxy_connections_open", "gauge", "The pass-through's upstream connections, per shard.");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::int64_t n = shards[i]->connections_open.get();
    sample(out, "tollgate_proxy_connections_open", metrics::shard_label(i), static_cast<std::uint64_t>(n < 0 ? 0 : n));
  }
}

}  // namespace tg::server
