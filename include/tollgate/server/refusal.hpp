// SPDX-License-Identifier: Apache-2.0
// Every refusal the server can give, and the one table that turns each into
// its status, metric label, problem detail and Retry-After. The front door and
// the handlers return (or pass) a refusal; nothing else chooses a status for
// an error. OpenMeter answers every client error on ingest with 400 (never
// 415); tollgate adds 413 and 431 for its bounds, 505 for HTTP versions it
// does not speak, 429/503 for back pressure, 504 for acknowledgements that
// did not come in time, 502 for events the upstream refused (--ack upstream),
// and 502/504 when the upstream behind the pass-through fails to answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response.hpp"

namespace tg::server {

enum class refusal : std::uint8_t {
  // HTTP layer, before routing; the connection is closed after the answer.
  malformed_request,
  head_too_large,
  body_too_large,
  version_unsupported,
  header_timeout,
  body_timeout,
  // Routing.
  no_route,
  post_only,  // a GET or other method on an ingest path
  get_only,   // a POST or other method on /healthz, /readyz, /metrics
  // Ingest: the request itself.
  unsupported_media_type,
  empty_body,
  malformed_json,
  wrong_shape,
  invalid_event,
  too_many_events,
  // Ingest: admission.
  buffer_full,          // parked for --admit-timeout-ms and still no room
  buffer_full_now,      // --when-full reject
  spool_full,           // at --spool-max-bytes (or its writes behind) for --admit-timeout-ms
  spool_full_now,       // the same with --when-full reject
  spool_failing,        // the spool's writes fail: refused before anything is appended
  spool_append_failed,  // the append itself failed
  spool_write_failed,   // --ack durable: the failing disk did not take the events
  // Acknowledgements that wait.
  ack_timeout,   // --ack upstream: the upstream has not accepted in time
  sync_timeout,  // --ack durable: the spool has not synced in time
  upstream_refused,  // --ack upstream: the upstream refused events of the request (dead-lettered)
  // The pass-through (other paths under /api/).
  no_upstream_api,       // --upstream stdout or file: there is no API to pass to
  proxy_body_too_large,  // over --proxy-max-body-bytes
  upstream_unavailable,  // 502: connect, TLS, reset, closed before answering
  upstream_bad_response, // 502: the upstream's answer did not parse
  upstream_timeout,      // 504: no answer within --proxy-timeout-ms
  // The front door on a shared network (issue 10).
  unauthorized,          // --ingest-tokens-file: no, or no matching, bearer token on an /api/ request
  unsupported_encoding,  // a Content-Encoding other than gzip, deflate, zstd
  corrupt_encoding,      // a compressed body that does not inflate
  inflated_too_large,    // a compressed body that inflates past --max-body-bytes
  http2_preface,         // an HTTP/2 connection preface: answered with an HTTP/2 GOAWAY, not HTTP/1.1
  tls_required,          // plaintext HTTP sent to a TLS listener: answered in plaintext, then closed
  // Any payload in (--mappings, CloudEvents binary mode).
  unmapped,              // the body does not map to events by its route (a required pointer points at nothing)
  binary_mode,           // a binary-mode request whose ce-* headers or body do not make an event
  mapped_too_large,      // the mapped events of one request are more than the mapper's output bound
};
inline constexpr std::size_t refusal_count = static_cast<std::size_t>(refusal::mapped_too_large) + 1;

// Which metric family counts a refusal (besides tollgate_http_requests_total).
enum class refusal_family : std::uint8_t {
  http_error,  // tollgate_http_errors_total{kind}
  ingest,      // tollgate_ingest_rejected_total{reason}
  ack,         // tollgate_ack_timeouts_total
  none,        // only by endpoint and status
};

struct refusal_info {
  int status;
  refusal_family family;
  std::string_view label;   // the metric label; refusals may share one
  std::string_view detail;  // the problem detail, unless the caller has a more precise one
  bool retry_after;         // Retry-After: 1
  bool closes;              // the connection is closed after the answer
  std::string_view allow;   // the Allow header of a 405, or empty
  std::string_view authenticate = {};  // the WWW-Authenticate header of a 401, or empty
};

// The table. Total: every enumerator has a row.
const refusal_info& describe(refusal r) noexcept;

// Appends the problem+json answer (status, headers, body) for `r` to out.
// `detail` replaces the table's detail when not empty. A refusal that closes
// the connection always says `Connection: close`.
void write_refusal(std::string& out, refusal r, http::connection conn, std::string_view detail = {});

// The detail of refusal::upstream_refused: how many of the request's events
// the upstream refused (0: not known) and its answer (status 0: not known).
std::string upstream_refused_detail(std::uint64_t events, int status, std::string_view upstream_detail);

// The protocol cores' errors, as refusals.
refusal from_parse_error(http::parse_errc e) noexcept;
refusal from_validation_error(cloudevents::errc e) noexcept;

}  // namespace tg::server
