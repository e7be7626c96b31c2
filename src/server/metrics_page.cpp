// SPDX-License-Identifier: Apache-2.0
// GET /metrics. Totals are summed over shards; gauges that say something
// about one shard's health (ring fill, open connections) are given per shard,
// because one hot shard is what an operator needs to see. The output and the
// spool render their own families from their own probes.
#include <cstdio>
#include <span>

#include "ingest_handler.hpp"
#include "tollgate/metrics/exposition.hpp"

namespace tg::server {

const char* endpoint_label(endpoint e) noexcept {
  switch (e) {
    case endpoint::ingest_v1: return "/api/v1/events";
    case endpoint::ingest_v3: return "/api/v3/openmeter/events";
    case endpoint::healthz: return "/healthz";
    case endpoint::readyz: return "/readyz";
    case endpoint::metrics: return "/metrics";
    case endpoint::status: return "/status";
    case endpoint::status_json: return "/status.json";
    case endpoint::other: return "other";
  }
  return "other";
}

const char* accept_error_label(accept_error e) noexcept {
  switch (e) {
    case accept_error::process_fd_limit: return "process_fd_limit";
    case accept_error::system_fd_limit: return "system_fd_limit";
    case accept_error::no_memory: return "no_memory";
    case accept_error::connection: return "connection";
    case accept_error::other: return "other";
  }
  return "other";
}

namespace {
using metrics::head;
using metrics::sample;

std::span<const probe* const> shards_of(const process_state& p) {
  return {const_cast<const probe* const*>(p.probes.data()), p.probes.size()};
}

// One family over the refusals of `fam`, one sample per label (refusals that
// share a label are summed), every label present even at zero.
void refusals_by_label(std::string& out, std::span<const probe* const> shards, refusal_family fam, const char* name,
                    const char* label_key) {
  std::string_view seen[refusal_count];
  std::size_t n_seen = 0;
  for (std::size_t r = 0; r < refusal_count; ++r) {
    const refusal_info& info = describe(static_cast<refusal>(r));
    if (info.family != fam) continue;
    bool dup = false;
    for (std::size_t i = 0; i < n_seen; ++i) dup = dup || seen[i] == info.label;
    if (dup) continue;
    seen[n_seen++] = info.label;
    std::uint64_t total = 0;
    for (std::size_t q = r; q < refusal_count; ++q) {
      const refusal_info& other = describe(static_cast<refusal>(q));
      if (other.family != fam || other.label != info.label) continue;
      total += metrics::sum(shards, [&](const probe& p) { return p.refusals[q].get(); });
    }
    sample(out, name, std::string(label_key) + "=\"" + std::string(info.label) + "\"", total);
  }
}

void simple_counter(std::string& out, std::span<const probe* const> shards, const char* name, const char* help,
                    const metrics::counter probe::*member) {
  head(out, name, "counter", help);
  sample(out, name, {}, metrics::sum(shards, [&](const probe& p) { return (p.*member).get(); }));
}
// TLS handshakes, and the per-client families: one sample per client name
// seen (a token's name or a certificate's CN), `_other` past the bound.
void render_tls_and_clients(std::string& out, const process_state& process, std::span<const probe* const> shards) {
  simple_counter(out, shards, "tollgate_tls_handshakes_total", "TLS handshakes completed on the listener.",
                 &probe::tls_handshakes);
  simple_counter(out, shards, "tollgate_tls_resumed_total",
                 "TLS handshakes that resumed a session (a ticket) instead of a full handshake.", &probe::tls_resumed);
  simple_counter(out, shards, "tollgate_tls_handshake_failures_total",
                 "TLS handshakes that failed (protocol version, client certificate, not TLS at all); the connection "
                 "is closed.",
                 &probe::tls_handshake_failures);
  simple_counter(out, shards, "tollgate_tls_handshake_timeouts_total",
                 "TLS handshakes not done within --tls-handshake-timeout-ms; the connection is closed.",
                 &probe::tls_handshake_timeouts);
  if (process.clients == nullptr) return;
  struct family {
    const char* name;
    const char* help;
    metrics::counter client_counters::*member;
  };
  static constexpr family families[] = {
      {"tollgate_client_requests_total", "/api/ requests handled, by client (token name or certificate CN).",
       &client_counters::requests},
      {"tollgate_client_events_total", "Events accepted, by client.", &client_counters::events},
      {"tollgate_client_rejections_total", "/api/ requests refused (4xx or 5xx), by client.",
       &client_counters::rejections},
  };
  const std::size_t n = process.clients->size();
  for (const family& f : families) {
    head(out, f.name, "counter", f.help);
    for (std::size_t i = 0; i <= n; ++i) {
      const std::size_t slot = i == n ? client_registry::other : i;
      const std::uint64_t v = metrics::sum(shards, [&](const probe& p) { return (p.clients[slot].*f.member).get(); });
      if (i == n && v == 0) continue;
      // Names are label-safe: token names by the file's rules, CNs by the front door's.
      sample(out, f.name, "client=\"" + std::string(i == n ? "_other" : process.clients->name(i)) + "\"", v);
    }
  }
}
}  // namespace

void render_metrics_page(const process_state& process, bool ready, std::string& out) {
  const auto shards = shards_of(process);
  head(out, "tollgate_http_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (std::size_t e = 0; e < endpoint_count; ++e) {
    for (std::size_t s = 0; s < metrics::statuses.size(); ++s) {
      const std::uint64_t n = metrics::sum(shards, [&](const probe& p) { return p.requests[e][s].get(); });
      if (n == 0) continue;
      sample(out, "tollgate_http_requests_total",
             std::string("endpoint=\"") + endpoint_label(static_cast<endpoint>(e)) + "\",status=\"" +
                 std::to_string(metrics::statuses[s]) + "\"",
             n);
    }
  }
  head(out, "tollgate_http_errors_total", "counter",
       "Requests refused at the HTTP layer before routing (the connection is closed), by kind.");
  refusals_by_label(out, shards, refusal_family::http_error, "tollgate_http_errors_total", "kind");
  head(out, "tollgate_ingest_rejected_total", "counter",
       "Ingest requests rejected whole (none of their events accepted), by reason.");
  refusals_by_label(out, shards, refusal_family::ingest, "tollgate_ingest_rejected_total", "reason");

  simple_counter(out, shards, "tollgate_events_accepted_total", "Events accepted into a shard's event ring.",
                 &probe::events_accepted);
  simple_counter(out, shards, "tollgate_event_bytes_accepted_total",
                 "Bytes of accepted events put in the event rings (after time stamping).",
                 &probe::event_bytes_accepted);
  simple_counter(out, shards, "tollgate_received_bytes_total", "Bytes read from client connections.",
                 &probe::bytes_received);
  simple_counter(out, shards, "tollgate_sent_bytes_total", "Bytes written to client connections.", &probe::bytes_sent);
  simple_counter(out, shards, "tollgate_connections_accepted_total", "Client connections accepted.",
                 &probe::connections_accepted);
  simple_counter(out, shards, "tollgate_connections_refused_total",
                 "Client connections closed at once because the shard had --max-connections open.",
                 &probe::connections_refused);
  simple_counter(out, shards, "tollgate_connections_shed_total",
                 "Client connections closed at once because the process was out of file descriptors.",
                 &probe::connections_shed);
  head(out, "tollgate_accept_errors_total", "counter",
       "Failed accepts, by reason; out of descriptors or memory pauses accepting for a moment.");
  for (std::size_t e = 0; e < accept_error_count; ++e) {
    sample(out, "tollgate_accept_errors_total",
           std::string("reason=\"") + accept_error_label(static_cast<accept_error>(e)) + "\"",
           metrics::sum(shards, [&](const probe& p) { return p.accept_errors[e].get(); }));
  }
  simple_counter(out, shards, "tollgate_idle_timeouts_total", "Keep-alive connections closed for idling.",
                 &probe::idle_timeouts);
  head(out, "tollgate_ack_timeouts_total", "counter",
       "Requests answered 504 because their acknowledgement (--ack upstream or durable) did not come in time.");
  std::uint64_t ack_timeouts = 0;
  for (std::size_t r = 0; r < refusal_count; ++r) {
    if (describe(static_cast<refusal>(r)).family != refusal_family::ack) continue;
    ack_timeouts += metrics::sum(shards, [&](const probe& p) { return p.refusals[r].get(); });
  }
  sample(out, "tollgate_ack_timeouts_total", {}, ack_timeouts);
  simple_counter(out, shards, "tollgate_backpressure_pauses_total",
                 "Times a connection stopped being read because its shard's event ring was full.",
                 &probe::backpressure_pauses);
  simple_counter(out, shards, "tollgate_output_paused_total",
                 "Times a connection stopped being read because its unsent responses passed the bound (a client "
                 "pipelining without reading) or the shard's total did (--max-output-bytes-total).",
                 &probe::output_pauses);
  simple_counter(out, shards, "tollgate_input_overflows_total",
                 "Connections that sent more pipelined input than is held while reading is paused; they were "
                 "closed after the responses already due.",
                 &probe::stash_overflows);

  render_tls_and_clients(out, process, shards);

  head(out, "tollgate_connections_open", "gauge", "Client connections open, per shard.");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::int64_t n = shards[i]->connections_open.get();
    sample(out, "tollgate_connections_open", metrics::shard_label(i), static_cast<std::uint64_t>(n < 0 ? 0 : n));
  }
  head(out, "tollgate_ring_used_bytes", "gauge", "Bytes of events waiting in each shard's event ring.");
  for (std::size_t i = 0; i < process.rings.size(); ++i) {
    sample(out, "tollgate_ring_used_bytes", metrics::shard_label(i), process.rings[i]->used_bytes());
  }
  head(out, "tollgate_ring_capacity_bytes", "gauge", "Capacity of each shard's event ring (--buffer-bytes).");
  for (std::size_t i = 0; i < process.rings.size(); ++i) {
    sample(out, "tollgate_ring_capacity_bytes", metrics::shard_label(i), process.rings[i]->capacity());
  }

  if (process.output != nullptr) {
    process.output->render_metrics(out);
    if (process.output->events_done(0)) {
      head(out, "tollgate_events_waiting", "gauge", "Accepted events not yet delivered or dead-lettered, per shard.");
      for (std::size_t i = 0; i < shards.size(); ++i) {
        const std::uint64_t done = process.output->events_done(static_cast<unsigned>(i)).value_or(0);
        const std::uint64_t acc = shards[i]->events_accepted.get();
        sample(out, "tollgate_events_waiting", metrics::shard_label(i), acc > done ? acc - done : 0);
      }
    }
  }
  if (!process.spool_probes.empty()) spool::render_metrics(process.spool_probes, out);
  if (!process.proxy_probes.empty()) render_proxy_metrics(process.proxy_probes, out);

  head(out, "tollgate_shards", "gauge", "Shards (reactor threads) running.");
  sample(out, "tollgate_shards", {}, shards.size());
  head(out, "tollgate_ready", "gauge", "1 when /readyz answers 200.");
  sample(out, "tollgate_ready", {}, ready ? 1 : 0);
  head(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  char buf[64];
  std::snprintf(buf, sizeof buf, "process_start_time_seconds %.3f\n", process.start_time_seconds);
  out += buf;
}

}  // namespace tg::server
