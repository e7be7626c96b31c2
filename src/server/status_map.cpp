// SPDX-License-Identifier: Apache-2.0
// Error → status mapping. OpenMeter answers every client error on ingest with
// 400 (never 415); tollgate adds 413 and 431 for its bounds and 505 for
// HTTP versions it does not speak.
#include "status_map.hpp"

namespace tg::server {

http_failure map_parse_error(http::parse_errc e) noexcept {
  switch (e) {
    case http::parse_errc::head_too_large:
      return {431, metrics::http_error::head_too_large, "request line and headers are larger than the limit (--max-head-bytes / --max-headers)"};
    case http::parse_errc::body_too_large:
      return {413, metrics::http_error::body_too_large, "request body is larger than the limit (--max-body-bytes)"};
    case http::parse_errc::version_unsupported:
      return {505, metrics::http_error::version_unsupported, "only HTTP/1.0 and HTTP/1.1 are supported"};
    case http::parse_errc::malformed:
    case http::parse_errc::none:
      break;
  }
  return {400, metrics::http_error::malformed, "malformed HTTP request"};
}

ingest_failure map_ingest_error(cloudevents::errc e) noexcept {
  using cloudevents::errc;
  switch (e) {
    case errc::unsupported_media_type: return {400, metrics::reject_reason::unsupported_media_type};
    case errc::empty_body: return {400, metrics::reject_reason::empty_body};
    case errc::malformed_json: return {400, metrics::reject_reason::malformed_json};
    case errc::wrong_shape: return {400, metrics::reject_reason::wrong_shape};
    case errc::invalid_event: return {400, metrics::reject_reason::invalid_event};
    case errc::too_many_events: return {413, metrics::reject_reason::too_many_events};
    case errc::none: break;
  }
  return {400, metrics::reject_reason::invalid_event};
}

}  // namespace tg::server
