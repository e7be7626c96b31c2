// SPDX-License-Identifier: Apache-2.0
// status.json rendering: one object per shard from its counters, in a fixed
// key order so successive snapshots diff cleanly. Labels are the same strings
// /metrics uses (reject reasons, http error kinds, upstream outcomes), so the
// page, the dashboard and the alerts name things alike.
#include "tollgate/metrics/status_json.hpp"

#include <cmath>
#include <cstdio>

namespace tg::metrics {
namespace {

void num(std::string& out, std::uint64_t v) { out += std::to_string(v); }

void real(std::string& out, double v, const char* f = "%.6g") {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  out += buf;
}

// A JSON key: every key here is a fixed ASCII label with nothing to escape.
void key(std::string& out, std::string_view k) {
  out += '"';
  out += k;
  out += "\":";
}

std::uint64_t positive(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

// Upper bound of the bucket that holds quantile q of `counts` (one per bound,
// then +Inf); NaN with no observation or when it falls in +Inf.
template <std::size_t N>
double quantile_bound(const histogram<N>& h, double q) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= N; ++i) total += h.bucket(i);
  if (total == 0) return NAN;
  const double rank = q * static_cast<double>(total);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < N; ++i) {
    seen += h.bucket(i);
    if (static_cast<double>(seen) >= rank) return h.bounds()[i];
  }
  return NAN;
}

template <std::size_t N>
void histogram_json(std::string& out, const histogram<N>& h) {
  out += "{\"le\":[";
  for (std::size_t i = 0; i < N; ++i) {
    if (i) out += ',';
    real(out, h.bounds()[i], "%g");
  }
  out += "],\"counts\":[";
  for (std::size_t i = 0; i <= N; ++i) {
    if (i) out += ',';
    num(out, h.bucket(i));
  }
  out += "]}";
}

const char* upstream_state(const shard_metrics& m) {
  if (m.upstream.backing_off.get() > 0) return "backing_off";
  if (m.upstream.connections_open.get() > 0) return "connected";
  return "idle";
}

void upstream_json(std::string& out, const shard_metrics& m) {
  const upstream_metrics& u = m.upstream;
  out += "{\"state\":\"";
  out += upstream_state(m);
  out += "\",";
  key(out, "connections");
  num(out, positive(u.connections_open.get()));
  out += ',';
  key(out, "retries");
  num(out, u.retries.get());
  out += ',';
  key(out, "connect_failures");
  num(out, u.connect_failures.get());
  out += ',';
  const std::uint64_t done = u.events_delivered.get() + u.events_dead_lettered.get();
  const std::uint64_t accepted = m.events_accepted.get();
  key(out, "waiting");
  num(out, accepted > done ? accepted - done : 0);
  out += ",\"outcomes\":{";
  bool first = true;
  auto outcome = [&](const std::string& label, std::uint64_t n) {
    if (n == 0) return;
    if (!first) out += ',';
    first = false;
    key(out, label);
    num(out, n);
  };
  for (std::size_t i = 0; i < statuses.size(); ++i) outcome(std::to_string(statuses[i]), u.outcomes[i].get());
  for (std::size_t c = 1; c < 6; ++c) outcome(std::to_string(c) + "xx", u.unknown_status[c].get());
  outcome("network_error", u.outcomes[upstream_network_error].get());
  outcome("timeout", u.outcomes[upstream_timeout].get());
  out += "},";
  key(out, "latency_s");
  histogram_json(out, u.latency_seconds);
  out += ',';
  key(out, "p99_s");
  real(out, quantile_bound(u.latency_seconds, 0.99), "%g");
  out += '}';
}

void spool_json(std::string& out, const spool_metrics& s) {
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

void shard_json(std::string& out, const process_view& v, std::size_t index) {
  const shard_view& sv = v.shards[index];
  const shard_metrics& m = *sv.counters;
  out += '{';
  key(out, "shard");
  num(out, index);
  out += ',';
  key(out, "events_in");
  num(out, m.events_accepted.get());
  out += ',';
  key(out, "event_bytes_in");
  num(out, m.event_bytes_accepted.get());
  out += ',';
  key(out, "events_out");
  if (v.upstream) num(out, m.upstream.events_delivered.get());
  else out += "null";
  out += ',';
  key(out, "dead_lettered");
  num(out, m.upstream.events_dead_lettered.get());

  std::uint64_t requests = 0, c4 = 0, c5 = 0;
  for (endpoint e : {endpoint::ingest_v1, endpoint::ingest_v3}) {
    for (std::size_t s = 0; s < statuses.size(); ++s) {
      const std::uint64_t n = m.requests[static_cast<std::size_t>(e)][s].get();
      requests += n;
      if (statuses[s] / 100 == 4) c4 += n;
      if (statuses[s] / 100 == 5) c5 += n;
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
  num(out, sv.ring_used_bytes);
  out += ',';
  key(out, "capacity_bytes");
  num(out, sv.ring_capacity_bytes);
  out += "},\"rejected\":{";
  for (std::size_t r = 0; r < reject_reason_count; ++r) {
    if (r) out += ',';
    key(out, reject_reason_label(static_cast<reject_reason>(r)));
    num(out, m.ingest_rejected[r].get());
  }
  out += "},\"http_errors\":{";
  for (std::size_t k = 0; k < http_error_count; ++k) {
    if (k) out += ',';
    key(out, http_error_label(static_cast<http_error>(k)));
    num(out, m.http_errors[k].get());
  }
  out += "},";
  key(out, "upstream");
  if (v.upstream) upstream_json(out, m);
  else out += "null";
  out += ',';
  key(out, "spool");
  if (v.spool) spool_json(out, m.spool);
  else out += "null";
  out += '}';
}

}  // namespace

void render_status_json(const process_view& v, const status_meta& meta, std::string& out) {
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
  real(out, v.start_time_seconds, "%.3f");
  out += ',';
  key(out, "ready");
  out += v.ready ? "true" : "false";
  out += ',';
  key(out, "upstream");
  out += v.upstream ? "true" : "false";
  out += ',';
  key(out, "spool");
  out += v.spool ? "true" : "false";
  out += ",\"shards\":[";
  for (std::size_t i = 0; i < v.shards.size(); ++i) {
    if (i) out += ',';
    shard_json(out, v, i);
  }
  out += "],";
  key(out, "output");
  if (v.output != nullptr) {
    out += '{';
    key(out, "events");
    num(out, v.output->events_written.get());
    out += ',';
    key(out, "bytes");
    num(out, v.output->bytes_written.get());
    out += ',';
    key(out, "write_errors");
    num(out, v.output->write_errors.get());
    out += '}';
  } else {
    out += "null";
  }
  out += '}';
}

}  // namespace tg::metrics
