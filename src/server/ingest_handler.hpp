// SPDX-License-Identifier: Apache-2.0
// tollgate's request handler: routing, ingest (validate, stamp, admit into the
// event ring), health, readiness and metrics. No I/O: the shard feeds it
// requests and sends what it appends. One per shard.
#pragma once

#include <span>
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

class spool_driver;

class ingest_handler final : public request_handler {
 public:
  // `spool`: the shard's spool, or null without one.
  ingest_handler(const options& opts, ring::event_ring& ring, metrics::shard_metrics& counters,
                 const process_state& process, spool_driver* spool);

  // A full ring parks the request (outcome::park); once ctx.admit_expired it
  // gets 503 + Retry-After instead.
  outcome handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) override;

 private:
  outcome ingest(const http::request& req, cloudevents::api version, http::connection conn, std::string& out,
                 request_context& ctx);
  outcome ingest_spooled(cloudevents::api version, const http::request& req, http::connection conn,
                         std::string& out, request_context& ctx);
  outcome refuse(metrics::endpoint ep, http::connection conn, std::string& out, int status,
                 metrics::reject_reason why, std::string_view detail);
  outcome admitted(cloudevents::api version, std::uint64_t position, ack_wait wait, http::connection conn,
                   std::string& out, request_context& ctx);
  std::size_t ring_footprint() const;
  void metrics_page(http::connection conn, std::string& out, bool head_only);
  bool ready() const;

  const options& opts_;
  ring::event_ring& ring_;
  metrics::shard_metrics& counters_;
  const process_state& process_;
  cloudevents::validator validator_;
  std::vector<cloudevents::event_ref> events_;
  std::string scratch_;
  spool_driver* spool_;
  std::vector<std::span<const char>> payloads_;  // the request's stamped events, for the spool
  std::vector<char> stamped_;                    // where they are stamped when the ring does not take them
};

}  // namespace tg::server
