// SPDX-License-Identifier: Apache-2.0
// GET /status and GET /status.json: the live status page and the snapshot it
// polls once a second. The renderer reads the same probes /metrics renders
// (no clock, no I/O: the caller passes the time); the page is a static asset
// compiled in from share/status/status.html.
#pragma once

#include <string>
#include <string_view>

#include "tollgate/server/process_state.hpp"

namespace tg::server {

inline constexpr std::string_view status_json_content_type = "application/json";
inline constexpr std::string_view status_page_content_type = "text/html; charset=utf-8";

// Bumped when a key of status.json changes meaning or goes away (keys may be added).
inline constexpr int status_schema = 1;

struct status_meta {
  double now_s = 0;          // unix time of the snapshot, from the caller's clock
  std::string_view version;  // TOLLGATE_VERSION
  bool ready = true;         // what /readyz answers
};

// Appends one JSON object (no trailing newline):
//   {"schema":1,"version","time","start_time","ready","upstream","spool",
//    "shards":[{"shard","events_in","event_bytes_in","ingest_requests","ingest_4xx",
//               "ingest_5xx","connections","buffer":{"used_bytes","capacity_bytes"},
//               "rejected":{reason:n...},"http_errors":{kind:n...},
//               "spool":{"bytes","segments","failing","write_errors"}|null,
//               "events_out","dead_lettered",
//               "upstream":{"state","connections","retries","connect_failures",
//                           "waiting","outcomes":{status:n...},
//                           "latency_s":{"le":[...],"counts":[...]},"p99_s"}|null}...],
//    "output":{"events","bytes","write_errors"}|null}
// Counters are totals since start; the page turns successive snapshots into
// rates. ingest_* count answers on the two ingest paths only. events_out is
// null when the output is one thread for all shards (see "output"). The
// output renders its own keys (output::backend::render_status).
void render_status_json(const process_state& process, const status_meta& meta, std::string& out);

// The GET /status page: one self-contained HTML document (inline CSS and JS,
// no external assets) that fetches "status.json" (relative to itself) every
// second and draws rates, p99, fill and sparklines from successive snapshots.
std::string_view status_page_html() noexcept;

}  // namespace tg::server
