// SPDX-License-Identifier: Apache-2.0
// GET /status and GET /status.json: the live status page and the snapshot it
// polls once a second. The renderer is a pure function of the same view
// /metrics renders (no clock, no I/O: the caller passes the time); the page
// is a static asset compiled in from share/status/status.html.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tollgate/metrics/prometheus.hpp"

namespace tg::metrics {

inline constexpr std::string_view status_json_content_type = "application/json";
inline constexpr std::string_view status_page_content_type = "text/html; charset=utf-8";

// Bumped when a key of status.json changes meaning or goes away (keys may be added).
inline constexpr int status_schema = 1;

struct status_meta {
  double now_s = 0;          // unix time of the snapshot, from the caller's clock
  std::string_view version;  // TOLLGATE_VERSION
};

// Appends one JSON object (no trailing newline):
//   {"schema":1,"version","time","start_time","ready","upstream","spool",
//    "shards":[{"shard","events_in","event_bytes_in","events_out","dead_lettered",
//               "ingest_requests","ingest_4xx","ingest_5xx","connections",
//               "buffer":{"used_bytes","capacity_bytes"},
//               "rejected":{reason:n...},"http_errors":{kind:n...},
//               "upstream":{"state","connections","retries","connect_failures",
//                           "waiting","outcomes":{status:n...},
//                           "latency_s":{"le":[...],"counts":[...]},"p99_s"}|null,
//               "spool":{"bytes","segments","failing","write_errors"}|null}...],
//    "output":{"events","bytes","write_errors"}|null}
// Counters are totals since start; the page turns successive snapshots into
// rates. ingest_* count answers on the two ingest paths only (not the page's
// own polls or scrapes). events_out is null without an HTTP upstream (the stdout/file output
// is one thread for all shards: see "output"). latency_s counts are per
// bucket (not cumulative), one more than "le" (the last is +Inf); p99_s is
// the upper bound of the bucket holding the 99th percentile since start
// (null with no batch yet or when it is in the +Inf bucket).
void render_status_json(const process_view& view, const status_meta& meta, std::string& out);

// The GET /status page: one self-contained HTML document (inline CSS and JS,
// no external assets) that fetches "status.json" (relative to itself) every
// second and draws rates, p99, fill and sparklines from successive snapshots.
std::string_view status_page_html() noexcept;

}  // namespace tg::metrics
