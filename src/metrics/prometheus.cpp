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
