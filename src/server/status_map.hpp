// SPDX-License-Identifier: Apache-2.0
// The one place where errors from the protocol cores become HTTP statuses and
// metric labels.
#pragma once

#include <string_view>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/http/request_parser.hpp"
#include "tollgate/metrics/counters.hpp"

namespace tg::server {

struct http_failure {
  int status;
  metrics::http_error kind;
  std::string_view detail;
};
http_failure map_parse_error(http::parse_errc e) noexcept;

struct ingest_failure {
  int status;
  metrics::reject_reason reason;
};
ingest_failure map_ingest_error(cloudevents::errc e) noexcept;

}  // namespace tg::server
