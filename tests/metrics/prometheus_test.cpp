// SPDX-License-Identifier: Apache-2.0
// The exposition text sums shards and labels what it should.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tollgate/metrics/prometheus.hpp"

using namespace tg::metrics;

TEST_CASE("metrics sum request counters over shards by endpoint and status") {
  shard_metrics a, b;
  a.count_request(endpoint::ingest_v1, 204);
  a.count_request(endpoint::ingest_v1, 204);
  b.count_request(endpoint::ingest_v1, 204);
  b.count_request(endpoint::ingest_v1, 400);
  a.events_accepted.add(5);
  b.events_accepted.add(7);
  a.connections_open.set(3);
  std::vector<shard_view> shards = {{&a, 100, 1000}, {&b, 0, 1000}};
  process_view v{shards, nullptr, 1.5, true};
  std::string out;
  render(v, out);
  CHECK(out.find("tollgate_http_requests_total{endpoint=\"/api/v1/events\",status=\"204\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_http_requests_total{endpoint=\"/api/v1/events\",status=\"400\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_events_accepted_total 12\n") != std::string::npos);
  CHECK(out.find("tollgate_connections_open{shard=\"0\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_ring_used_bytes{shard=\"0\"} 100\n") != std::string::npos);
  CHECK(out.find("tollgate_shards 2\n") != std::string::npos);
  CHECK(out.find("# TYPE tollgate_events_accepted_total counter\n") != std::string::npos);
}

TEST_CASE("metrics count unknown statuses in the 500 slot") {
  CHECK(statuses[status_index(500)] == 500);
  CHECK(statuses[status_index(299)] == 500);
  CHECK(statuses[status_index(204)] == 204);
}

TEST_CASE("metrics render upstream histograms cumulatively over shards") {
  shard_metrics a, b;
  a.upstream.batch_events.observe(5);    // bucket le=10
  b.upstream.batch_events.observe(500);  // bucket le=500
  b.upstream.batch_events.observe(20000);
  a.upstream.outcomes[status_index(204)].add(2);
  b.upstream.outcomes[upstream_network_error].add();
  a.events_accepted.add(10);
  a.upstream.events_delivered.add(7);
  std::vector<shard_view> shards = {{&a, 0, 1}, {&b, 0, 1}};
  process_view v{shards, nullptr, 0, true, true};
  std::string out;
  render(v, out);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"1\"} 0\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"10\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"500\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_batch_events_count 3\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_requests_total{status=\"204\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_upstream_requests_total{status=\"network_error\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_events_waiting{shard=\"0\"} 3\n") != std::string::npos);
}
