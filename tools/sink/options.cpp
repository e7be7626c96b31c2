// SPDX-License-Identifier: Apache-2.0
// Command-line parsing for tollgate-sink. Every flag takes its value as the
// next argument or after '='. The server options the sink does not expose keep
// the gateway's defaults, except the ones a stand-in upstream needs changed.
#include "options.hpp"

#include "tollgate/base/parse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace tg::sink {
namespace {

bool parse_ratio(std::string_view s, double& out) { return parse_double(s, out) && out >= 0.0 && out <= 1.0; }

// The smallest event OpenMeter accepts has five non-empty attributes (about 60
// bytes), so this bound on events per request never binds before the body size.
constexpr std::size_t min_event_bytes = 32;

}  // namespace

parse_outcome parse_options(std::span<const std::string_view> args) {
  parse_outcome out;
  options& o = out.opts;
  o.server.listen = std::string(default_listen);
  o.server.shards = 1;
  o.server.tick_ms = default_tick_ms;
  o.server.limits.max_body_bytes = default_max_body_bytes;
  auto fail = [&](std::string msg) {
    out.status = parse_status::usage_error;
    out.message = std::move(msg);
    return out;
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto [flag, inline_value] = split_flag(args[i]);
    if (flag == "--help" || flag == "-h") {
      out.status = parse_status::help;
      return out;
    }
    std::string_view v;
    if (inline_value) {
      v = *inline_value;
    } else if (i + 1 < args.size()) {
      v = args[++i];
    } else {
      return fail(std::string(flag) + " needs a value (see --help)");
    }
    auto number = [&](std::uint64_t lo, std::uint64_t hi, std::uint64_t& dst) {
      return parse_u64(v, dst) && dst >= lo && dst <= hi;
    };
    auto range = [&](std::uint64_t lo, std::uint64_t hi) {
      return std::string(flag) + " must be an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    };
    std::uint64_t n = 0;
    if (flag == "--listen") {
      if (v.find(':') == std::string_view::npos) return fail("--listen must be HOST:PORT");
      o.server.listen = std::string(v);
    } else if (flag == "--shards") {
      if (!number(1, 1024, n)) return fail(range(1, 1024));
      o.server.shards = static_cast<unsigned>(n);
    } else if (flag == "--tick-ms") {
      if (!number(1, 1000, n)) return fail(range(1, 1000));
      o.server.tick_ms = static_cast<unsigned>(n);
    } else if (flag == "--max-body-bytes") {
      if (!number(1024, 1ull << 30, n)) return fail(range(1024, 1ull << 30));
      o.server.limits.max_body_bytes = n;
    } else if (flag == "--record") {
      if (v.empty()) return fail("--record needs a path");
      o.record_path = std::string(v);
    } else if (flag == "--token") {
      if (v.empty()) return fail("--token needs a value");
      o.token = std::string(v);
    } else if (flag == "--log-level") {
      if (!log::parse_level(v, o.log_level)) return fail("--log-level must be debug, info, warn, error or off");
    } else if (flag == "--latency-ms") {
      if (!number(0, max_latency_ms, o.initial.latency_ms)) return fail(range(0, max_latency_ms));
    } else if (flag == "--fail-status") {
      if (!number(200, 599, n)) return fail(range(200, 599));
      o.initial.status = static_cast<int>(n);
    } else if (flag == "--fail-count") {
      if (!number(0, UINT64_MAX, o.initial.status_count)) return fail("--fail-count must be a non-negative integer");
    } else if (flag == "--fail-ratio") {
      if (!parse_ratio(v, o.initial.status_ratio)) return fail("--fail-ratio must be a number 0..1");
    } else if (flag == "--retry-after") {
      for (const char c : v) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return fail("--retry-after may not hold control characters");
      }
      o.initial.retry_after = std::string(v);
    } else if (flag == "--reject-id-prefix") {
      o.initial.reject_id_prefix = std::string(v);
    } else if (flag == "--drop-count") {
      if (!number(0, UINT64_MAX, o.initial.drop_count)) return fail("--drop-count must be a non-negative integer");
    } else if (flag == "--drop-ratio") {
      if (!parse_ratio(v, o.initial.drop_ratio)) return fail("--drop-ratio must be a number 0..1");
    } else {
      return fail("unknown flag " + std::string(flag) + " (see --help)");
    }
  }
  // The shard insists on room for two bodies in its event ring; the sink never
  // fills it, so it gets exactly that and a little more.
  o.server.buffer_bytes = 2 * o.server.limits.max_body_bytes + (64u << 10);
  o.server.validation.max_events = std::max<std::size_t>(10000, o.server.limits.max_body_bytes / min_event_bytes);
  return out;
}

std::string help_text() {
  return R"(tollgate-sink: an OpenMeter ingest stand-in for tests and benchmarks.

Serves POST /api/v1/events like OpenMeter (three content types, 204 with no
body, 400 application/problem+json), counts events and distinct ids, and
injects faults on request.

Usage: tollgate-sink [flags]     (each flag takes --flag VALUE or --flag=VALUE)

Server:
  --listen HOST:PORT      address to listen on; port 0 picks a free port, logged
                          as "port" in the "listening" line     [127.0.0.1:8888]
  --shards N              reactor threads (1..1024)                          [1]
  --tick-ms N             timer tick, the granularity of --latency-ms (1..1000)
                                                                             [5]
  --max-body-bytes N      largest request body; larger gets 413 (1024..2^30)
                                                                      [16777216]
  --log-level L           debug, info, warn, error or off                 [info]

What it accepts:
  --token T               require "Authorization: Bearer T" on ingest; missing
                          or wrong gets 401 problem+json           [none: open]
  --record PATH           append every accepted event (bytes as received, CR/LF
                          made spaces) to PATH as JSON Lines           [none]

Faults (the start-up values; change them at run time with POST /faults):
  --latency-ms N          delay every ingest response by N ms (0..3600000)   [0]
  --fail-status S         status of injected failures (200..599)           [503]
  --fail-count N          answer the next N ingest requests with S           [0]
  --fail-ratio R          then answer a share R (0..1) of them with S        [0]
  --retry-after V         Retry-After value on injected failures; "" for none
                                                                             [1]
  --reject-id-prefix P    400 for a request holding an event whose id starts
                          with P (the whole request is refused)        [none]
  --drop-count N          close the next N ingest requests' connections
                          without answering                                  [0]
  --drop-ratio R          then close a share R (0..1) of them                [0]

Endpoints:
  POST /api/v1/events     ingest (application/cloudevents+json,
                          application/cloudevents-batch+json, application/json)
  GET  /stats             counters as JSON
  POST /reset             zero the counters and forget the ids seen
  GET  /faults            the current faults as JSON
  POST /faults            change faults: a JSON object with any of latency_ms,
                          status, status_count, status_ratio, retry_after,
                          reject_id_prefix, drop_count, drop_ratio
  DELETE /faults          clear every fault
  GET  /healthz           200 ok

SIGTERM or SIGINT stops it.

Exit status: 0 stopped by SIGTERM or SIGINT; 2 usage or start-up error; 3 io_uring
is unusable on this host.
)";
}

}  // namespace tg::sink
