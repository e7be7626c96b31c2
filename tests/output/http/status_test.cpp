// SPDX-License-Identifier: Apache-2.0
// The HTTP output's part of status.json: state, outcomes, latency buckets
// and the p99 bucket bound, from one shard's probe.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <string>

#include "tollgate/output/http/probe.hpp"

using namespace tg;

namespace {
simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& keys) {
  const std::string json = "{\"x\":0" + keys + "}";
  auto r = p.parse(json);
  REQUIRE_MESSAGE(r.error() == simdjson::SUCCESS, json);
  return r.value();
}
}  // namespace

TEST_CASE("http output status gives upstream state, outcomes, latency buckets and p99") {
  upstream::probe a;
  a.events_delivered.add(90);
  a.events_dead_lettered.add(4);
  a.connections_open.set(3);
  a.retries.add(5);
  a.connect_failures.add(1);
  a.outcomes[metrics::status_index(204)].add(40);
  a.outcomes[metrics::status_index(503)].add(2);
  a.outcomes[upstream::outcome_network_error].add(1);
  a.outcomes[upstream::outcome_timeout].add(6);
  a.unknown_status[4].add(1);  // e.g. a 418
  for (int i = 0; i < 98; ++i) a.latency_seconds.observe(0.004);  // le=0.005
  a.latency_seconds.observe(0.2);                                 // le=0.25
  a.latency_seconds.observe(0.2);
  std::string keys;
  upstream::render_status(a, 100, keys);
  simdjson::dom::parser p;
  const auto r = parse(p, keys);
  CHECK(std::int64_t(r["events_out"]) == 90);
  CHECK(std::int64_t(r["dead_lettered"]) == 4);
  const auto u = r["upstream"];
  CHECK(std::string_view(u["state"]) == "connected");
  CHECK(std::int64_t(u["connections"]) == 3);
  CHECK(std::int64_t(u["retries"]) == 5);
  CHECK(std::int64_t(u["connect_failures"]) == 1);
  CHECK(std::int64_t(u["waiting"]) == 6);  // 100 accepted - 90 delivered - 4 dead-lettered
  CHECK(std::int64_t(u["outcomes"]["204"]) == 40);
  CHECK(std::int64_t(u["outcomes"]["503"]) == 2);
  CHECK(std::int64_t(u["outcomes"]["network_error"]) == 1);
  CHECK(std::int64_t(u["outcomes"]["timeout"]) == 6);
  CHECK(std::int64_t(u["outcomes"]["4xx"]) == 1);
  CHECK(u["outcomes"]["500"].error() == simdjson::NO_SUCH_FIELD);  // zero outcomes are left out
  simdjson::dom::array le = u["latency_s"]["le"];
  simdjson::dom::array counts = u["latency_s"]["counts"];
  const auto& bounds = a.latency_seconds.bounds();
  REQUIRE(le.size() == bounds.size());
  REQUIRE(counts.size() == bounds.size() + 1);  // the last is +Inf
  std::int64_t total = 0;
  for (std::int64_t c : counts) total += c;
  CHECK(total == 100);
  CHECK(std::int64_t(counts.at(2)) == 98);
  CHECK(double(u["p99_s"]) == doctest::Approx(0.25));  // rank 99 of 100 falls in le=0.25
}

TEST_CASE("http output status: backing off, idle, and no p99 without a batch or past the last bound") {
  upstream::probe b, idle;
  b.backing_off.set(1);
  b.latency_seconds.observe(30);  // past the last bound: +Inf
  simdjson::dom::parser p;
  std::string kb, ki;
  upstream::render_status(b, 0, kb);
  upstream::render_status(idle, 0, ki);
  const auto rb = parse(p, kb);
  CHECK(std::string_view(rb["upstream"]["state"]) == "backing_off");
  CHECK(rb["upstream"]["p99_s"].is_null());
  simdjson::dom::parser p2;
  const auto ri = parse(p2, ki);
  CHECK(std::string_view(ri["upstream"]["state"]) == "idle");
  CHECK(ri["upstream"]["p99_s"].is_null());
}
