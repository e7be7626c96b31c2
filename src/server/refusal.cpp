// SPDX-License-Identifier: Apache-2.0
// The refusal table. Rows are in enum order, so describe() is an index; a
// static_assert keeps the two in step.
#include "tollgate/server/refusal.hpp"

#include <array>

namespace tg::server {
namespace {
using fam = refusal_family;
constexpr bool retry = true;
constexpr bool closes = true;

constexpr std::array<refusal_info, refusal_count> table = {{
    {400, fam::http_error, "malformed", "malformed HTTP request", !retry, closes, {}},
    {431, fam::http_error, "head_too_large",
     "request line and headers are larger than the limit (--max-head-bytes / --max-headers)", !retry, closes, {}},
    {413, fam::http_error, "body_too_large", "request body is larger than the limit (--max-body-bytes)", !retry, closes,
     {}},
    {505, fam::http_error, "version_unsupported", "only HTTP/1.0 and HTTP/1.1 are supported", !retry, closes, {}},
    {408, fam::http_error, "header_timeout", "request head not received in time (--header-timeout-ms)", !retry, closes,
     {}},
    {408, fam::http_error, "body_timeout", "request body not received in time (--body-timeout-ms)", !retry, closes, {}},
    {404, fam::none, "no_route", "no route for this path", !retry, !closes, {}},
    {405, fam::none, "post_only", "method not allowed; use POST", !retry, !closes, "POST"},
    {405, fam::none, "get_only", "method not allowed; use GET", !retry, !closes, "GET, HEAD"},
    {400, fam::ingest, "unsupported_media_type", "unsupported Content-Type", !retry, !closes, {}},
    {400, fam::ingest, "empty_body", "request body is empty", !retry, !closes, {}},
    {400, fam::ingest, "malformed_json", "request body is not valid JSON", !retry, !closes, {}},
    {400, fam::ingest, "wrong_shape", "request body has the wrong shape for its Content-Type", !retry, !closes, {}},
    {400, fam::ingest, "invalid_event", "invalid event", !retry, !closes, {}},
    {413, fam::ingest, "too_many_events", "too many events in one request (--max-events-per-request)", !retry,
     !closes, {}},
    {503, fam::ingest, "buffer_full", "the event buffer is full; retry later", retry, !closes, {}},
    {429, fam::ingest, "buffer_full", "the event buffer is full; retry later", retry, !closes, {}},
    {503, fam::ingest, "spool_full", "the spool is full (--spool-max-bytes) or its writes are behind; retry later",
     retry, !closes, {}},
    {429, fam::ingest, "spool_full", "the spool is full; retry later", retry, !closes, {}},
    {503, fam::ingest, "spool_error",
     "the spool cannot write to disk (disk full or an I/O error); accepted events are kept; retry later", retry,
     !closes, {}},
    {503, fam::ingest, "spool_error", "the spool cannot take the events (disk full or an I/O error); retry later",
     retry, !closes, {}},
    {503, fam::ingest, "spool_error",
     "the spool could not write the events to disk (disk full or an I/O error); retry later", retry, !closes, {}},
    {504, fam::ack, "ack_timeout",
     "the upstream has not accepted the events in time (--ack-timeout-ms); they stay buffered and will be "
     "delivered, so retrying is safe (OpenMeter deduplicates on source and id)",
     !retry, !closes, {}},
    {504, fam::ack, "sync_timeout",
     "the spool has not made the events durable in time (--ack-timeout-ms); they are buffered and will be "
     "delivered, so retrying is safe (OpenMeter deduplicates on source and id)",
     !retry, !closes, {}},
    {502, fam::none, "upstream_refused",
     "the upstream refused events of this request; they were written to the dead-letter file and are not retried",
     !retry, !closes, {}},
    {404, fam::none, "no_upstream_api",
     "there is no upstream API to pass this request to: --upstream is stdout or file:, which only take events "
     "(use an http(s):// upstream for the rest of the OpenMeter API)",
     !retry, !closes, {}},
    {413, fam::none, "body_too_large", "request body is larger than the pass-through's limit (--proxy-max-body-bytes)",
     !retry, !closes, {}},
    {502, fam::none, "upstream_unavailable", "the upstream could not be reached", !retry, !closes, {}},
    {502, fam::none, "upstream_bad_response", "the upstream's response could not be read", !retry, !closes, {}},
    {504, fam::none, "upstream_timeout", "the upstream did not answer in time (--proxy-timeout-ms)", !retry,
     !closes, {}},
    {401, fam::ingest, "unauthorized",
     "missing or unknown bearer token: send Authorization: Bearer <token> with a token from --ingest-tokens-file",
     !retry, !closes, {}, "Bearer"},
    {415, fam::ingest, "unsupported_encoding", "unsupported Content-Encoding; use gzip, deflate or zstd", !retry,
     !closes, {}},
    {400, fam::ingest, "corrupt_encoding", "the compressed request body does not inflate", !retry, !closes, {}},
    {413, fam::ingest, "body_too_large", "the request body inflates to more than the limit (--max-body-bytes)",
     !retry, !closes, {}},
    {505, fam::http_error, "http2", "HTTP/2 is not served here; use HTTP/1.1", !retry, closes, {}},
    {400, fam::http_error, "tls_required", "this port speaks TLS: use https://", !retry, closes, {}},
    {400, fam::ingest, "unmapped", "the request body does not map to events by its route (--mappings)", !retry,
     !closes, {}},
    {400, fam::ingest, "binary_mode", "the CloudEvents binary-mode headers or body do not make an event", !retry,
     !closes, {}},
    {413, fam::ingest, "mapped_too_large", "the request maps to more event bytes than one request may hold", !retry,
     !closes, {}},
}};
static_assert(table.size() == refusal_count);
}  // namespace

const refusal_info& describe(refusal r) noexcept { return table[static_cast<std::size_t>(r)]; }

void write_refusal(std::string& out, refusal r, http::connection conn, std::string_view detail) {
  const refusal_info& i = describe(r);
  // An HTTP/2 client reads frames, not an HTTP/1.1 status line: it gets the
  // server preface and a GOAWAY that says why (RFC 9113 section 3.4).
  if (r == refusal::http2_preface) return http::write_h2_goaway(out, detail.empty() ? i.detail : detail);
  std::array<std::pair<std::string_view, std::string_view>, 3> extra;
  std::size_t n = 0;
  if (i.retry_after) extra[n++] = {"Retry-After", "1"};
  if (!i.allow.empty()) extra[n++] = {"Allow", i.allow};
  if (!i.authenticate.empty()) extra[n++] = {"WWW-Authenticate", i.authenticate};
  http::write_problem(out, i.status, detail.empty() ? i.detail : detail, i.closes ? http::connection::close : conn,
                      http::header_list(extra.data(), n));
}

std::string upstream_refused_detail(std::uint64_t events, int status, std::string_view upstream_detail) {
  std::string d = "the upstream refused ";
  if (events == 0) d += "events";
  else d += std::to_string(events) + (events == 1 ? " event" : " events");
  d += " of this request (";
  if (status != 0) d += std::to_string(status) + (upstream_detail.empty() ? "" : ": ");
  d += upstream_detail;
  d += "); ";
  d += events == 1 ? "it was" : "they were";
  d += " written to the dead-letter file and will not be retried";
  return d;
}

refusal from_parse_error(http::parse_errc e) noexcept {
  switch (e) {
    case http::parse_errc::head_too_large: return refusal::head_too_large;
    case http::parse_errc::body_too_large: return refusal::body_too_large;
    case http::parse_errc::version_unsupported: return refusal::version_unsupported;
    case http::parse_errc::h2_preface: return refusal::http2_preface;
    case http::parse_errc::malformed:
    case http::parse_errc::none: break;
  }
  return refusal::malformed_request;
}

refusal from_validation_error(cloudevents::errc e) noexcept {
  using cloudevents::errc;
  switch (e) {
    case errc::unsupported_media_type: return refusal::unsupported_media_type;
    case errc::empty_body: return refusal::empty_body;
    case errc::malformed_json: return refusal::malformed_json;
    case errc::wrong_shape: return refusal::wrong_shape;
    case errc::invalid_event: return refusal::invalid_event;
    case errc::too_many_events: return refusal::too_many_events;
    case errc::none: break;
  }
  return refusal::invalid_event;
}

}  // namespace tg::server
