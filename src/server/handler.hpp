// SPDX-License-Identifier: Apache-2.0
// Turns one complete request into response bytes: routing, ingest (validate,
// stamp, admit into the event ring), health, readiness and metrics. No I/O:
// the shard feeds it requests and sends what it appends. One per shard.
#pragma once

#include <string>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response.hpp"
#include "tollgate/metrics/counters.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/process_state.hpp"

namespace tg::server {

enum class outcome : std::uint8_t {
  answered,  // a response was appended
  park,      // the event ring has no room: nothing appended; ask again later
};

class handler {
 public:
  handler(const options& opts, ring::event_ring& ring, metrics::shard_metrics& counters,
          const process_state& process);

  // `admit_expired`: the request has waited admit_timeout_ms for ring space;
  // answer 503 instead of parking again.
  outcome handle(const http::request& req, http::connection conn, std::string& out, bool admit_expired);

 private:
  outcome ingest(const http::request& req, cloudevents::api version, http::connection conn, std::string& out,
                 bool admit_expired);
  void metrics_page(http::connection conn, std::string& out, bool head_only);
  bool ready() const;

  const options& opts_;
  ring::event_ring& ring_;
  metrics::shard_metrics& counters_;
  const process_state& process_;
  cloudevents::validator validator_;
  std::vector<cloudevents::event_ref> events_;
  std::string scratch_;
};

}  // namespace tg::server
