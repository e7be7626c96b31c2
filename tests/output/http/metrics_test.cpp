// SPDX-License-Identifier: Apache-2.0
// The HTTP output's families sum its shards' probes.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tollgate/output/http/probe.hpp"

using namespace tg;

TEST_CASE("http output metrics render histograms cumulatively and outcomes by status over shards") {
  upstream::probe a, b;
  a.batch_events.observe(5);    // bucket le=10
  b.batch_events.observe(500);  // bucket le=500
  b.batch_events.observe(20000);
  a.outcomes[metrics::status_index(204)].add(2);
  b.outcomes[upstream::outcome_network_error].add();
  b.unknown_status[4].add(3);
  a.events_delivered.add(7);
  b.backing_off.set(1);
  const std::vector<const upstream::probe*> shards = {&a, &b};
  std::string out;
  upstream::render_metrics(shards, out);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"1\"} 0\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"10\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"500\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_count 3\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_requests_total{status=\"204\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_requests_total{status=\"network_error\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_requests_total{status=\"4xx\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_events_delivered_total 7\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_backing_off{shard=\"1\"} 1\n") != std::string::npos);
  CHECK(out.find("# TYPE tollgate_upstream_latency_seconds histogram\n") != std::string::npos);
}
