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
  members labels(out);
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
    labels.num(info.label, n);
  }
  out += '}';
}

void spool_json(std::string& out, const spool::probe& s) {
  out += '{';
  members(out)
      .num("bytes", positive(s.bytes.get()))
      .num("segments", positive(s.segments.get()))
      .flag("failing", s.failing.get() > 0)
      .num("write_errors", s.write_errors.get());
  out += '}';
}

void shard_json(std::string& out, const process_state& p, std::size_t index) {
  const probe& m = *p.probes[index];
  std::uint64_t requests = 0, c4 = 0, c5 = 0;
  for (endpoint e : {endpoint::ingest_v1, endpoint::ingest_v3}) {
    for (std::size_t s = 0; s < metrics::statuses.size(); ++s) {
      const std::uint64_t n = m.requests[static_cast<std::size_t>(e)][s].get();
      requests += n;
      if (metrics::statuses[s] / 100 == 4) c4 += n;
      if (metrics::statuses[s] / 100 == 5) c5 += n;
    }
  }
  out += '{';
  members shard(out);
  shard.num("shard", index)
      .num("events_in", m.events_accepted.get())
      .num("event_bytes_in", m.event_bytes_accepted.get())
      .num("ingest_requests", requests)
      .num("ingest_4xx", c4)
      .num("ingest_5xx", c5)
      .num("connections", positive(m.connections_open.get()));
  shard.key("buffer") += '{';
  members(out)
      .num("used_bytes", index < p.rings.size() ? p.rings[index]->used_bytes() : 0)
      .num("capacity_bytes", index < p.rings.size() ? p.rings[index]->capacity() : 0);
  out += '}';
  refusals_json(shard.key("rejected"), m, refusal_family::ingest);
  refusals_json(shard.key("http_errors"), m, refusal_family::http_error);
  if (index < p.spool_probes.size()) spool_json(shard.key("spool"), *p.spool_probes[index]);
  else shard.key("spool") += "null";
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
  members top(out);
  top.num("schema", status_schema);
  std::string& version = top.key("version");
  version += '"';
  for (char c : meta.version) {  // a version string is printable ASCII; keep the JSON valid whatever it is
    if (c == '"' || c == '\\') version += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) version += c;
  }
  version += '"';
  top.real("time", meta.now_s, "%.3f")
      .real("start_time", p.start_time_seconds, "%.3f")
      .flag("ready", meta.ready)
      .flag("upstream", p.output != nullptr && p.output->confirms_delivery())
      .flag("spool", !p.spool_probes.empty());
  top.key("shards") += '[';
  for (std::size_t i = 0; i < p.probes.size(); ++i) {
    if (i) out += ',';
    shard_json(out, p, i);
  }
  out += ']';
  if (p.output != nullptr) p.output->render_status_output(top.key("output"));
  else top.key("output") += "null";
  out += '}';
}

}  // namespace tg::server
