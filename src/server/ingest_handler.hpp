// SPDX-License-Identifier: Apache-2.0
// tollgate's request handler: routing, ingest (validate, stamp, admit into the
// event ring), health, readiness and metrics. No I/O: the shard feeds it
// requests and sends what it appends. One per shard.
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
#include "tollgate/server/request_handler.hpp"

namespace tg::server {

class ingest_handler final : public request_handler {
 public:
  ingest_handler(const options& opts, ring::event_ring& ring, metrics::shard_metrics& counters,
                 const process_state& process);

  // A full ring parks the request (outcome::park); once ctx.admit_expired it
  // gets 503 + Retry-After instead.
  outcome handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) override;

 private:
  outcome ingest(const http::request& req, cloudevents::api version, http::connection conn, std::string& out,
                 request_context& ctx);
  std::size_t ring_footprint() const;
  outcome reject_full(metrics::endpoint ep, http::connection conn, std::string& out);
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
