// SPDX-License-Identifier: Apache-2.0
// The front door's metrics, one probe per shard: requests by endpoint and
// status, refusals (indexed by the refusal table), accepted events, bytes and
// connections. Written only by its shard's thread, summed on scrape.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/counters.hpp"
#include "tollgate/server/clients.hpp"
#include "tollgate/server/refusal.hpp"

namespace tg::server {

enum class endpoint : std::uint8_t { ingest_v1, ingest_v3, healthz, readyz, metrics, other };
inline constexpr std::size_t endpoint_count = 6;
const char* endpoint_label(endpoint e) noexcept;

struct probe {
  metrics::counter requests[endpoint_count][metrics::statuses.size()];
  metrics::counter refusals[refusal_count];
  metrics::counter events_accepted;
  metrics::counter event_bytes_accepted;  // bytes put in the ring (stamped events)
  metrics::counter bytes_received;
  metrics::counter bytes_sent;
  metrics::counter connections_accepted;
  metrics::counter connections_refused;  // over --max-connections
  metrics::counter idle_timeouts;
  metrics::counter backpressure_pauses;  // times a connection stopped being read for a full ring
  metrics::gauge connections_open;
  // TLS on the listener (--tls-cert).
  metrics::counter tls_handshakes;          // completed
  metrics::counter tls_resumed;             // of those, resumed sessions (tickets)
  metrics::counter tls_handshake_failures;  // bad client hello, protocol, certificate
  metrics::counter tls_handshake_timeouts;  // not done within --tls-handshake-timeout-ms
  // Per client (token name or certificate CN), by client_registry slot.
  client_counters clients[max_clients + 1];

  void count_request(endpoint e, int status) noexcept {
    requests[static_cast<std::size_t>(e)][metrics::status_index(status)].add();
  }
  void count(refusal r) noexcept { refusals[static_cast<std::size_t>(r)].add(); }
};

}  // namespace tg::server
