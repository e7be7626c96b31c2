// SPDX-License-Identifier: Apache-2.0
// status.json: one object per shard from its probes, in a fixed key order so
// successive snapshots diff cleanly. Labels are the ones /metrics uses.
#include "tollgate/metrics/json.hpp"
#include "tollgate/server/status.hpp"

namespace tg::server {
namespace {
using namespace metrics::json;

// Every label of one refusal family, each once, zero or not.
void refusals_json(std::string& out, const probe& m, refusal_family fam) {
  out += '{';
  bool first = true;
  for (std::size_t r = 0; r < refusal_count; ++r) {
    const refusal_info& info = describe(static_cast<refusal>(r));
    if (info.family != fam) continue;
    bool seen = false;
    for (std::size_t q = 0; q < r; ++q) {
      const refusal_info& before = describe(static_cast<refusal>(q));
      seen = seen || (before.family == fam && before.label == info.label);
    }
    if (seen) continue;
    std::uint64_t n = 0;
    for (std::size_t q = r; q < refusal_count; ++q) {
      const refusal_info& other = describe(static_cast<refusal>(q));
      if (other.family == fam && other.label == info.label) n += m.refusals[q].get();
    }
    if (!first) out += ',';
    first = false;
    key(out, info.label);
    num(out, n);
  }
  out += '}';
}

void spool_json(std::string& out, const spool::probe& s) {
  out += '{';
  key(out, "bytes");
  num(out, positive(s.bytes.get()));
  out += ',';
  key(out, "segments");
  num(out, positive(s.segments.get()));
  out += ',';
  key(out, "failing");
  out += s.failing.get() > 0 ? "true" : "false";
  out += ',';
  key(out, "write_errors");
  num(out, s.write_errors.get());
  out += '}';
}

void shard_json(std::string& out, const process_state& p, std::size_t index) {
  const probe& m = *p.probes[index];
  out += '{';
  key(out, "shard");
  num(out, index);
  out += ',';
  key(out, "events_in");
  num(out, m.events_accepted.get());
  out += ',';
  key(out, "event_bytes_in");
  num(out, m.event_bytes_accepted.get());
  std::uint64_t requests = 0, c4 = 0, c5 = 0;
  for (endpoint e : {endpoint::ingest_v1, endpoint::ingest_v3}) {
    for (std::size_t s = 0; s < metrics::statuses.size(); ++s) {
      const std::uint64_t n = m.requests[static_cast<std::size_t>(e)][s].get();
      requests += n;
      if (metrics::statuses[s] / 100 == 4) c4 += n;
      if (metrics::statuses[s] / 100 == 5) c5 += n;
    }
  }
  out += ',';
  key(out, "ingest_requests");
  num(out, requests);
  out += ',';
  key(out, "ingest_4xx");
  num(out, c4);
  out += ',';
  key(out, "ingest_5xx");
  num(out, c5);
  out += ',';
  key(out, "connections");
  num(out, positive(m.connections_open.get()));
  out += ",\"buffer\":{";
  key(out, "used_bytes");
  num(out, index < p.rings.size() ? p.rings[index]->used_bytes() : 0);
  out += ',';
  key(out, "capacity_bytes");
  num(out, index < p.rings.size() ? p.rings[index]->capacity() : 0);
  out += "},";
  key(out, "rejected");
  refusals_json(out, m, refusal_family::ingest);
  out += ',';
  key(out, "http_errors");
  refusals_json(out, m, refusal_family::http_error);
  out += ',';
  key(out, "spool");
  if (index < p.spool_probes.size()) spool_json(out, *p.spool_probes[index]);
  else out += "null";
  if (p.output != nullptr) {
    p.output->render_status(static_cast<unsigned>(index), m.events_accepted.get(), out);
  } else {
    out += ",\"events_out\":null,\"dead_lettered\":0,\"upstream\":null";
  }
  out += '}';
}
}  // namespace

void render_status_json(const process_state& p, const status_meta& meta, std::string& out) {
  out += '{';
  key(out, "schema");
  num(out, status_schema);
  out += ",\"version\":\"";
  for (char c : meta.version) {  // a version string is printable ASCII; keep the JSON valid whatever it is
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  out += "\",";
  key(out, "time");
  real(out, meta.now_s, "%.3f");
  out += ',';
  key(out, "start_time");
  real(out, p.start_time_seconds, "%.3f");
  out += ',';
  key(out, "ready");
  out += meta.ready ? "true" : "false";
  out += ',';
  key(out, "upstream");
  out += p.output != nullptr && p.output->confirms_delivery() ? "true" : "false";
  out += ',';
  key(out, "spool");
  out += p.spool_probes.empty() ? "false" : "true";
  out += ",\"shards\":[";
  for (std::size_t i = 0; i < p.probes.size(); ++i) {
    if (i) out += ',';
    shard_json(out, p, i);
  }
  out += "],";
  key(out, "output");
  if (p.output != nullptr) p.output->render_status_output(out);
  else out += "null";
  out += '}';
}

}  // namespace tg::server
