// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's request handler: OpenMeter's POST /api/v1/events (validated
// by the front door's own validator), the bearer token, fault injection,
// canned answers for the rest of /api/ (recorded), and the control endpoints
// (/stats, /reset, /faults, /api-calls, /healthz). One handler per
// shard, called on that shard's thread; what all shards share (counters, id
// set, faults, the record file) lives in one sink_state owned by main.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api_recorder.hpp"
#include "faults.hpp"
#include "record.hpp"
#include "stats.hpp"
#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/request_handler.hpp"

namespace tg::sink {

// Process-wide, outlives the gateway. The faults are read (copied) and their
// runs counted down under one mutex, so a run of N is exactly N across shards.
struct sink_state {
  sink_state(std::string bearer_token, const faults& initial, const std::string& record_path);

  faults snapshot();
  faults replace(const faults& f);  // returns what was set

  const std::string token;  // "" = no authentication
  stats counters;
  recorder record;
  api_recorder api;  // the rest of /api/: what came, answered with canned JSON
  std::mutex faults_m;
  faults current;  // guarded by faults_m
};

// OpenMeter v1's Content-Type check, stricter than tollgate's classify(): the
// raw header must equal one of the three types exactly (case and all), and the
// 400 detail says what OpenMeter's would (INGEST_API.md §1.3).
cloudevents::media_type openmeter_v1_media_type(std::string_view content_type, std::string& detail);

class sink_handler final : public server::request_handler {
 public:
  sink_handler(sink_state& state, const server::options& opts, unsigned shard_index);
  ~sink_handler() override;

  // An ingest request under added latency parks (outcome::park) until
  // ctx.now_ms - ctx.first_try_ms reaches it; nothing is counted or decided
  // until then, so a parked request is judged exactly once.
  server::outcome handle(const http::request& req, http::connection conn, std::string& out,
                         server::request_context& ctx) override;

 private:
  server::outcome ingest(const http::request& req, http::connection conn, std::string& out,
                         server::request_context& ctx);
  void faults_endpoint(const http::request& req, http::connection conn, std::string& out);
  void api_endpoint(const http::request& req, http::connection conn, std::string& out);
  bool authorized(const http::request& req) const;
  double draw() noexcept;  // uniform in [0,1)

  struct id_reader;  // simdjson parser for ids, kept out of this header
  sink_state& state_;
  cloudevents::validator validator_;
  std::unique_ptr<id_reader> ids_;
  std::vector<cloudevents::event_ref> events_;
  std::vector<std::string> keys_;
  std::string lines_;
  std::uint64_t rng_;
};

}  // namespace tg::sink
