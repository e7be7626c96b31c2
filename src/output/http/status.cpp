// SPDX-License-Identifier: Apache-2.0
// The HTTP output's part of GET /status.json. Outcome labels are the ones
// /metrics uses, so the page, the dashboard and the alerts name things alike.
#include "tollgate/metrics/json.hpp"
#include "tollgate/output/http/probe.hpp"

namespace tg::upstream {
namespace {
const char* state_of(const probe& u) {
  if (u.backing_off.get() > 0) return "backing_off";
  if (u.connections_open.get() > 0) return "connected";
  return "idle";
}
}  // namespace

void render_status(const probe& u, std::uint64_t events_accepted, std::string& out) {
  using namespace metrics::json;
  out += ',';
  key(out, "events_out");
  num(out, u.events_delivered.get());
  out += ',';
  key(out, "dead_lettered");
  num(out, u.events_dead_lettered.get());
  out += ",\"upstream\":{\"state\":\"";
  out += state_of(u);
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
  key(out, "waiting");
  num(out, events_accepted > done ? events_accepted - done : 0);
  out += ",\"outcomes\":{";
  bool first = true;
  auto outcome = [&](const std::string& label, std::uint64_t n) {
    if (n == 0) return;
    if (!first) out += ',';
    first = false;
    key(out, label);
    num(out, n);
  };
  for (std::size_t i = 0; i < metrics::statuses.size(); ++i) {
    outcome(std::to_string(metrics::statuses[i]), u.outcomes[i].get());
  }
  for (std::size_t c = 1; c < 6; ++c) outcome(std::to_string(c) + "xx", u.unknown_status[c].get());
  outcome("network_error", u.outcomes[outcome_network_error].get());
  outcome("timeout", u.outcomes[outcome_timeout].get());
  out += "},";
  key(out, "latency_s");
  histogram_json(out, u.latency_seconds);
  out += ',';
  key(out, "p99_s");
  real(out, quantile_bound(u.latency_seconds, 0.99), "%g");
  out += '}';
}

}  // namespace tg::upstream
