// SPDX-License-Identifier: Apache-2.0
// The pass-through's metrics, one probe per shard: requests by method class
// and status class, failures by reason, upstream latency, bytes each way,
// what is in flight. Written only by its shard's thread, summed on scrape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "tollgate/http/request_parser.hpp"
#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/histogram.hpp"

namespace tg::server {

// read: GET, HEAD, OPTIONS (safe, RFC 9110 section 9.2.1); write: the rest.
enum class method_class : std::uint8_t { read, write };
inline constexpr std::size_t method_class_count = 2;
method_class classify_method(http::method m) noexcept;

// Why a passed-through request failed (tollgate_proxy_failures_total{reason}).
enum class proxy_failure : std::uint8_t { connect, tls, network, closed, timeout, bad_response, client_gone };
inline constexpr std::size_t proxy_failure_count = 7;
const char* proxy_failure_name(proxy_failure f) noexcept;

struct proxy_probe {
  // [method class][status / 100], 1..5; answers tollgate wrote itself (502/504) included.
  metrics::counter requests[method_class_count][6];
  metrics::counter failures[proxy_failure_count];
  metrics::counter request_bytes;   // bytes sent upstream (heads and bodies)
  metrics::counter response_bytes;  // bytes received from the upstream (after TLS)
  metrics::counter connects;        // upstream connections opened
  metrics::counter retries;         // idempotent requests sent again after a stale keep-alive connection
  metrics::histogram<13> latency_seconds{{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}};
  metrics::gauge in_flight;         // requests taken and not yet answered in full
  metrics::gauge connections_open;

  void count(method_class m, int status) noexcept {
    const int c = status / 100;
    if (c >= 1 && c <= 5) requests[static_cast<std::size_t>(m)][c].add();
  }
};

// Appends the tollgate_proxy_* families over the shards' probes.
void render_proxy_metrics(std::span<const proxy_probe* const> shards, std::string& out);

}  // namespace tg::server
