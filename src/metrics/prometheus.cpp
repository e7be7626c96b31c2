// SPDX-License-Identifier: Apache-2.0
// Prometheus text rendering. Totals are summed over shards; gauges that say
// something about one shard's health (ring fill, open connections) are also
// given per shard, because one hot shard is what an operator needs to see.
#include "tollgate/metrics/prometheus.hpp"

#include <cstdio>

namespace tg::metrics {
namespace {

void head(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const std::string& labels, std::uint64_t v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

template <class F>
std::uint64_t sum(const process_view& v, F f) {
  std::uint64_t total = 0;
  for (const shard_view& s : v.shards) total += f(*s.counters);
  return total;
}

void simple_counter(std::string& out, const process_view& v, const char* name, const char* help,
                    const counter shard_metrics::*member) {
  head(out, name, "counter", help);
  sample(out, name, {}, sum(v, [&](const shard_metrics& m) { return (m.*member).get(); }));
}

// One histogram family summed over the shards; `get` picks it from a shard's counters.
template <class Get>
void histogram_samples(std::string& out, const process_view& v, const char* name, Get get) {
  const auto& bounds = get(*v.shards[0].counters).bounds();
  const std::size_t n = bounds.size();
  std::uint64_t cumulative = 0;
  double total = 0;
  char le[48];
  for (std::size_t i = 0; i <= n; ++i) {
    for (const shard_view& s : v.shards) cumulative += get(*s.counters).bucket(i);
    if (i < n) std::snprintf(le, sizeof le, "le=\"%g\"", bounds[i]);
    else std::snprintf(le, sizeof le, "le=\"+Inf\"");
    sample(out, (std::string(name) + "_bucket").c_str(), le, cumulative);
  }
  for (const shard_view& s : v.shards) total += get(*s.counters).sum();
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s_sum %.6f\n", name, total);
  out += buf;
  sample(out, (std::string(name) + "_count").c_str(), {}, cumulative);
}

std::uint64_t sum_upstream(const process_view& v, const counter upstream_metrics::*member) {
  std::uint64_t total = 0;
  for (const shard_view& s : v.shards) total += (s.counters->upstream.*member).get();
  return total;
}

void render_upstream(const process_view& v, std::string& out) {
  head(out, "tollgate_upstream_requests_total", "counter",
       "Batches sent upstream, by outcome: the HTTP status, or network_error / timeout.");
  for (std::size_t i = 0; i < upstream_outcome_count; ++i) {
    std::uint64_t n = 0;
    for (const shard_view& s : v.shards) n += s.counters->upstream.outcomes[i].get();
    if (i == upstream_other_status) {
      for (std::size_t c = 1; c < 6; ++c) {
        std::uint64_t k = 0;
        for (const shard_view& s : v.shards) k += s.counters->upstream.unknown_status[c].get();
        if (k > 0) sample(out, "tollgate_upstream_requests_total", "status=\"" + std::to_string(c) + "xx\"", k);
      }
      continue;
    }
    if (n == 0) continue;
    std::string label = i == upstream_network_error ? "network_error"
                        : i == upstream_timeout     ? "timeout"
                                                    : std::to_string(statuses[i]);
    sample(out, "tollgate_upstream_requests_total", "status=\"" + label + "\"", n);
  }
  struct row {
    const char* name;
    const char* help;
    const counter upstream_metrics::*member;
  };
  const row rows[] = {
      {"tollgate_upstream_retries_total", "Batches scheduled again after a failed attempt.", &upstream_metrics::retries},
      {"tollgate_upstream_splits_total", "Batches split in halves after a 400 from the upstream.", &upstream_metrics::splits},
      {"tollgate_upstream_events_delivered_total", "Events the upstream accepted.", &upstream_metrics::events_delivered},
      {"tollgate_dead_lettered_events_total", "Events written to the dead-letter file (rejected by the upstream on their own).",
       &upstream_metrics::events_dead_lettered},
      {"tollgate_upstream_connects_total", "Connections opened to the upstream.", &upstream_metrics::connects},
      {"tollgate_upstream_connect_failures_total", "Failed connection attempts (connect, TLS handshake, DNS).",
       &upstream_metrics::connect_failures},
  };
  for (const row& r : rows) {
    head(out, r.name, "counter", r.help);
    sample(out, r.name, {}, sum_upstream(v, r.member));
  }
  head(out, "tollgate_upstream_batch_events", "histogram", "Events per batch sent upstream.");
  histogram_samples(out, v, "tollgate_upstream_batch_events",
                    [](const shard_metrics& m) -> const auto& { return m.upstream.batch_events; });
  head(out, "tollgate_upstream_latency_seconds", "histogram", "Time from sending a batch to its response.");
  histogram_samples(out, v, "tollgate_upstream_latency_seconds",
                    [](const shard_metrics& m) -> const auto& { return m.upstream.latency_seconds; });
  head(out, "tollgate_events_waiting", "gauge",
       "Accepted events not yet delivered or dead-lettered, per shard.");
  for (std::size_t i = 0; i < v.shards.size(); ++i) {
    const shard_metrics& m = *v.shards[i].counters;
    const std::uint64_t done = m.upstream.events_delivered.get() + m.upstream.events_dead_lettered.get();
    const std::uint64_t acc = m.events_accepted.get();
    sample(out, "tollgate_events_waiting", "shard=\"" + std::to_string(i) + "\"", acc > done ? acc - done : 0);
  }
  head(out, "tollgate_upstream_backing_off", "gauge", "1 while a shard waits before trying the upstream again.");
  for (std::size_t i = 0; i < v.shards.size(); ++i) {
    const std::int64_t b = v.shards[i].counters->upstream.backing_off.get();
    sample(out, "tollgate_upstream_backing_off", "shard=\"" + std::to_string(i) + "\"", static_cast<std::uint64_t>(b > 0 ? b : 0));
  }
}

void render_spool(const process_view& v, std::string& out) {
  struct gauge_row {
    const char* name;
    const char* help;
    const gauge spool_metrics::*member;
  };
  static const gauge_row gauges[] = {
      {"tollgate_spool_bytes", "Bytes of spool segments on disk, per shard.", &spool_metrics::bytes},
      {"tollgate_spool_segments", "Spool segment files, per shard.", &spool_metrics::segments},
      {"tollgate_spool_failing", "1 while a shard's spool writes or syncs fail (new requests get 503).",
       &spool_metrics::failing},
  };
  for (const gauge_row& g : gauges) {
    head(out, g.name, "gauge", g.help);
    for (std::size_t i = 0; i < v.shards.size(); ++i) {
      const std::int64_t n = (v.shards[i].counters->spool.*g.member).get();
      sample(out, g.name, "shard=\"" + std::to_string(i) + "\"", static_cast<std::uint64_t>(n < 0 ? 0 : n));
    }
  }
  struct counter_row {
    const char* name;
    const char* help;
    const counter spool_metrics::*member;
  };
  static const counter_row counters[] = {
      {"tollgate_spool_syncs_total", "Group commits (fdatasync of the spool) completed.", &spool_metrics::syncs},
      {"tollgate_spool_replayed_events_total",
       "Events read back at start-up: spooled by an earlier run and not yet delivered.", &spool_metrics::replayed_events},
      {"tollgate_spool_disk_reads_events_total",
       "Events read back from the spool because memory did not hold them (replay included).",
       &spool_metrics::disk_read_events},
      {"tollgate_spool_quarantined_segments_total",
       "Segments found damaged at start-up; their damaged bytes were moved to .corrupt files.",
       &spool_metrics::quarantined_segments},
      {"tollgate_spool_quarantined_bytes_total", "Bytes moved to .corrupt files at start-up.",
       &spool_metrics::quarantined_bytes},
      {"tollgate_spool_quarantined_events_total",
       "Events lost to damage found at start-up: sequence numbers missing between the records kept.",
       &spool_metrics::quarantined_events},
      {"tollgate_spool_torn_bytes_total", "Bytes of torn tails (cut by a crash mid-write) truncated at start-up.",
       &spool_metrics::torn_bytes},
      {"tollgate_spool_write_errors_total", "Failed spool writes and syncs (disk full, I/O errors).",
       &spool_metrics::write_errors},
      {"tollgate_spool_deleted_segments_total", "Segments deleted once every event in them was delivered.",
       &spool_metrics::deleted_segments},
  };
  for (const counter_row& c : counters) {
    head(out, c.name, "counter", c.help);
    sample(out, c.name, {}, sum(v, [&](const shard_metrics& m) { return (m.spool.*c.member).get(); }));
  }
  head(out, "tollgate_spool_sync_seconds", "histogram", "Duration of one group commit (fdatasync) of the spool.");
  histogram_samples(out, v, "tollgate_spool_sync_seconds",
                    [](const shard_metrics& m) -> const auto& { return m.spool.sync_seconds; });
  head(out, "tollgate_spool_events_per_sync", "histogram", "Events made durable by one group commit.");
  histogram_samples(out, v, "tollgate_spool_events_per_sync",
                    [](const shard_metrics& m) -> const auto& { return m.spool.events_per_sync; });
}

}  // namespace

void render(const process_view& v, std::string& out) {
  head(out, "tollgate_http_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (std::size_t e = 0; e < endpoint_count; ++e) {
    for (std::size_t s = 0; s < statuses.size(); ++s) {
      std::uint64_t n = sum(v, [&](const shard_metrics& m) { return m.requests[e][s].get(); });
      if (n == 0) continue;
      sample(out, "tollgate_http_requests_total",
             std::string("endpoint=\"") + endpoint_label(static_cast<endpoint>(e)) + "\",status=\"" +
                 std::to_string(statuses[s]) + "\"",
             n);
    }
  }

  head(out, "tollgate_http_errors_total", "counter",
       "Requests refused at the HTTP layer before routing (the connection is closed), by kind.");
  for (std::size_t k = 0; k < http_error_count; ++k) {
    sample(out, "tollgate_http_errors_total",
           std::string("kind=\"") + http_error_label(static_cast<http_error>(k)) + "\"",
           sum(v, [&](const shard_metrics& m) { return m.http_errors[k].get(); }));
  }

  head(out, "tollgate_ingest_rejected_total", "counter",
       "Ingest requests rejected whole (none of their events accepted), by reason.");
  for (std::size_t r = 0; r < reject_reason_count; ++r) {
    sample(out, "tollgate_ingest_rejected_total",
           std::string("reason=\"") + reject_reason_label(static_cast<reject_reason>(r)) + "\"",
           sum(v, [&](const shard_metrics& m) { return m.ingest_rejected[r].get(); }));
  }

  simple_counter(out, v, "tollgate_events_accepted_total", "Events accepted into a shard's event ring.",
                 &shard_metrics::events_accepted);
  simple_counter(out, v, "tollgate_event_bytes_accepted_total",
                 "Bytes of accepted events put in the event rings (after time stamping).",
                 &shard_metrics::event_bytes_accepted);
  simple_counter(out, v, "tollgate_received_bytes_total", "Bytes read from client connections.",
                 &shard_metrics::bytes_received);
  simple_counter(out, v, "tollgate_sent_bytes_total", "Bytes written to client connections.",
                 &shard_metrics::bytes_sent);
  simple_counter(out, v, "tollgate_connections_accepted_total", "Client connections accepted.",
                 &shard_metrics::connections_accepted);
  simple_counter(out, v, "tollgate_connections_refused_total",
                 "Client connections closed at once because the shard had --max-connections open.",
                 &shard_metrics::connections_refused);
  simple_counter(out, v, "tollgate_idle_timeouts_total", "Keep-alive connections closed for idling.",
                 &shard_metrics::idle_timeouts);
  simple_counter(out, v, "tollgate_ack_timeouts_total",
                 "--ack upstream requests answered 504 because the upstream did not accept their events in time.",
                 &shard_metrics::ack_timeouts);
  simple_counter(out, v, "tollgate_backpressure_pauses_total",
                 "Times a connection stopped being read because its shard's event ring was full.",
                 &shard_metrics::backpressure_pauses);

  head(out, "tollgate_connections_open", "gauge", "Client connections open, per shard.");
  for (std::size_t i = 0; i < v.shards.size(); ++i) {
    std::int64_t n = v.shards[i].counters->connections_open.get();
    sample(out, "tollgate_connections_open", "shard=\"" + std::to_string(i) + "\"",
           static_cast<std::uint64_t>(n < 0 ? 0 : n));
  }
  head(out, "tollgate_ring_used_bytes", "gauge", "Bytes of events waiting in each shard's event ring.");
  for (std::size_t i = 0; i < v.shards.size(); ++i) {
    sample(out, "tollgate_ring_used_bytes", "shard=\"" + std::to_string(i) + "\"", v.shards[i].ring_used_bytes);
  }
  head(out, "tollgate_ring_capacity_bytes", "gauge", "Capacity of each shard's event ring (--buffer-bytes).");
  for (std::size_t i = 0; i < v.shards.size(); ++i) {
    sample(out, "tollgate_ring_capacity_bytes", "shard=\"" + std::to_string(i) + "\"",
           v.shards[i].ring_capacity_bytes);
  }

  if (v.output != nullptr) {
    head(out, "tollgate_output_events_total", "counter", "Events written by the output (stdout / file).");
    sample(out, "tollgate_output_events_total", {}, v.output->events_written.get());
    head(out, "tollgate_output_bytes_total", "counter", "Bytes written by the output (stdout / file).");
    sample(out, "tollgate_output_bytes_total", {}, v.output->bytes_written.get());
    head(out, "tollgate_output_write_errors_total", "counter",
         "Failed writes by the output; the events stay in the ring and are written again.");
    sample(out, "tollgate_output_write_errors_total", {}, v.output->write_errors.get());
  }

  if (v.upstream) render_upstream(v, out);
  if (v.spool) render_spool(v, out);

  head(out, "tollgate_shards", "gauge", "Shards (reactor threads) running.");
  sample(out, "tollgate_shards", {}, v.shards.size());
  head(out, "tollgate_ready", "gauge", "1 when /readyz answers 200.");
  sample(out, "tollgate_ready", {}, v.ready ? 1 : 0);
  head(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  char buf[64];
  std::snprintf(buf, sizeof buf, "process_start_time_seconds %.3f\n", v.start_time_seconds);
  out += buf;
}

}  // namespace tg::metrics
