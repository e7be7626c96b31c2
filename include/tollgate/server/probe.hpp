// SPDX-License-Identifier: Apache-2.0
// The front door's metrics, one probe per shard: requests by endpoint and
// status, refusals (indexed by the refusal table), accepted events, bytes,
// connections and accept failures. Written only by its shard's thread, summed on scrape.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/counters.hpp"
#include "tollgate/server/clients.hpp"
#include "tollgate/server/refusal.hpp"

namespace tg::server {

enum class endpoint : std::uint8_t { ingest_v1, ingest_v3, healthz, readyz, metrics, status, status_json, other };
inline constexpr std::size_t endpoint_count = 8;
const char* endpoint_label(endpoint e) noexcept;

// Why an accept failed, for tollgate_accept_errors_total{reason}.
enum class accept_error : std::uint8_t {
  process_fd_limit,  // EMFILE: the process is at its descriptor limit (ulimit -n)
  system_fd_limit,   // ENFILE: the system's file table is full
  no_memory,         // ENOMEM, ENOBUFS
  connection,        // that one connection's trouble (aborted before accept, EPERM, ...)
  other,
};
inline constexpr std::size_t accept_error_count = 5;
const char* accept_error_label(accept_error e) noexcept;

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
  metrics::counter output_pauses;        // times a connection stopped being read for its unsent answers
  metrics::counter stash_overflows;      // connections that sent more than max_stash_bytes ahead: closed
  metrics::counter accept_errors[accept_error_count];
  metrics::counter connections_shed;     // accepted with the reserve descriptor and closed at once
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
  void count(accept_error e) noexcept { accept_errors[static_cast<std::size_t>(e)].add(); }
};

}  // namespace tg::server
