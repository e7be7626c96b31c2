// SPDX-License-Identifier: Apache-2.0
// tollgate's request handler: routing, ingest (validate, stamp, admit into the
// event ring and the spool), health, readiness and metrics; every other
// request under /api/ goes to the shard's pass-through. No I/O: the front
// door feeds it requests and sends what it appends. One per shard. Every
// refusal goes through the refusal table (refusal.hpp).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response.hpp"
#include "tollgate/mapping/binary_mode.hpp"
#include "tollgate/mapping/mapper.hpp"
#include "tollgate/mapping/routes.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/probe.hpp"
#include "tollgate/server/process_state.hpp"
#include "tollgate/server/refusal.hpp"
#include "tollgate/server/request_handler.hpp"
#include "tollgate/spool/driver.hpp"

namespace tg::server {

class ingest_handler final : public request_handler {
 public:
  // `spool`: the shard's spool, or null without one.
  ingest_handler(const options& opts, ring::event_ring& ring, probe& counters, const process_state& process,
                 spool::driver* spool);

  // A full ring parks the request (outcome::park, keeping its validated
  // events in ctx.kept); once ctx.admit_expired it gets 503 + Retry-After.
  outcome handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) override;

  // Whether /readyz answers 200 (also the tollgate_ready gauge).
  bool ready() const;

 private:
  outcome ingest(const http::request& req, cloudevents::api version, http::connection conn, std::string& out,
                 request_context& ctx);
  outcome ingest_mapped(const http::request& req, const mapping::route& route, http::connection conn,
                        std::string& out, request_context& ctx);
  // `src`: the bytes the validated events point into (the body, or what the
  // mapper made of it); `from_body`: src is the request's own body.
  outcome admit(std::string_view src, bool from_body, cloudevents::api version, http::connection conn,
                std::string& out, request_context& ctx);
  outcome admit_ring(std::string_view src, bool from_body, cloudevents::api version, http::connection conn,
                     std::string& out, request_context& ctx);
  outcome admit_spooled(std::string_view src, bool from_body, cloudevents::api version, http::connection conn,
                        std::string& out, request_context& ctx);
  outcome park(request_context& ctx, std::size_t park_bytes, bool from_body);
  outcome pass(const http::request& req, endpoint ep, http::connection conn, std::string& out,
               const request_context& ctx);
  outcome refuse(endpoint ep, http::connection conn, std::string& out, refusal r, std::string_view detail = {});
  outcome admitted(cloudevents::api version, std::uint64_t position, ack_wait wait, http::connection conn,
                   std::string& out, request_context& ctx);
  std::size_t ring_footprint() const;

  const options& opts_;
  ring::event_ring& ring_;
  probe& counters_;
  const process_state& process_;
  cloudevents::validator validator_;
  std::vector<cloudevents::event_ref> events_;
  std::string scratch_;
  spool::driver* spool_;
  std::vector<std::span<const char>> payloads_;  // the request's stamped events, for the spool
  std::vector<char> stamped_;                    // where they are stamped when the ring does not take them
  subscription<mapping::route_table> routes_;    // --mappings (a new table after SIGHUP is picked up here)
  mapping::mapper mapper_;
  mapping::output mapped_;                       // the events a route or binary mode made of the body
};

// The /metrics page: the front door's families over every shard's probe, the
// output's, the spool's, and the process gauges.
void render_metrics_page(const process_state& process, bool ready, std::string& out);

}  // namespace tg::server
