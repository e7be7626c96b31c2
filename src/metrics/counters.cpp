// SPDX-License-Identifier: Apache-2.0
// Labels for the counter enums, and the status → index map.
#include "tollgate/metrics/counters.hpp"

namespace tg::metrics {

const char* endpoint_label(endpoint e) noexcept {
  switch (e) {
    case endpoint::ingest_v1: return "/api/v1/events";
    case endpoint::ingest_v3: return "/api/v3/openmeter/events";
    case endpoint::healthz: return "/healthz";
    case endpoint::readyz: return "/readyz";
    case endpoint::metrics: return "/metrics";
    case endpoint::other: return "other";
  }
  return "other";
}

std::size_t status_index(int status) noexcept {
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i] == status) return i;
  }
  return status_index(500);
}

const char* reject_reason_label(reject_reason r) noexcept {
  switch (r) {
    case reject_reason::unsupported_media_type: return "unsupported_media_type";
    case reject_reason::empty_body: return "empty_body";
    case reject_reason::malformed_json: return "malformed_json";
    case reject_reason::wrong_shape: return "wrong_shape";
    case reject_reason::invalid_event: return "invalid_event";
    case reject_reason::too_many_events: return "too_many_events";
    case reject_reason::body_too_large: return "body_too_large";
    case reject_reason::buffer_full: return "buffer_full";
    case reject_reason::spool_full: return "spool_full";
    case reject_reason::spool_error: return "spool_error";
  }
  return "unknown";
}

const char* http_error_label(http_error e) noexcept {
  switch (e) {
    case http_error::malformed: return "malformed";
    case http_error::head_too_large: return "head_too_large";
    case http_error::body_too_large: return "body_too_large";
    case http_error::version_unsupported: return "version_unsupported";
    case http_error::header_timeout: return "header_timeout";
  }
  return "unknown";
}

}  // namespace tg::metrics
