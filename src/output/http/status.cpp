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
  // These members continue the shard's object (hence the first comma).
  out += ',';
  members shard(out);
  shard.num("events_out", u.events_delivered.get()).num("dead_lettered", u.events_dead_lettered.get());
  shard.key("upstream") += '{';
  members up(out);
  const std::uint64_t done = u.events_delivered.get() + u.events_dead_lettered.get();
  up.label("state", state_of(u))
      .num("connections", positive(u.connections_open.get()))
      .num("retries", u.retries.get())
      .num("connect_failures", u.connect_failures.get())
      .num("waiting", events_accepted > done ? events_accepted - done : 0);
  up.key("outcomes") += '{';
  members outcomes(out);
  auto outcome = [&](const std::string& label, std::uint64_t n) {
    if (n != 0) outcomes.num(label, n);
  };
  for (std::size_t i = 0; i < metrics::statuses.size(); ++i) {
    outcome(std::to_string(metrics::statuses[i]), u.outcomes[i].get());
  }
  for (std::size_t c = 1; c < 6; ++c) outcome(std::to_string(c) + "xx", u.unknown_status[c].get());
  outcome("network_error", u.outcomes[outcome_network_error].get());
  outcome("timeout", u.outcomes[outcome_timeout].get());
  out += '}';
  histogram_json(up.key("latency_s"), u.latency_seconds);
  up.real("p99_s", quantile_bound(u.latency_seconds, 0.99), "%g");
  out += '}';
}

}  // namespace tg::upstream
