// SPDX-License-Identifier: Apache-2.0
// The /metrics page sums the shards' probes and labels what it should.
#include <doctest/doctest.h>

#include <string>

#include "ingest_handler.hpp"

using namespace tg;
using namespace tg::server;

TEST_CASE("metrics page sums request counters over shards by endpoint and status") {
  probe a, b;
  a.count_request(endpoint::ingest_v1, 204);
  a.count_request(endpoint::ingest_v1, 204);
  b.count_request(endpoint::ingest_v1, 204);
  b.count_request(endpoint::ingest_v1, 400);
  a.events_accepted.add(5);
  b.events_accepted.add(7);
  a.connections_open.set(3);
  ring::event_ring ra(4096), rb(4096);
  process_state p;
  p.probes = {&a, &b};
  p.rings = {&ra, &rb};
  p.start_time_seconds = 1.5;
  std::string out;
  render_metrics_page(p, true, out);
  CHECK(out.find("tollgate_http_requests_total{endpoint=\"/api/v1/events\",status=\"204\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_http_requests_total{endpoint=\"/api/v1/events\",status=\"400\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_events_accepted_total 12\n") != std::string::npos);
  CHECK(out.find("tollgate_connections_open{shard=\"0\"} 3\n") != std::string::npos);
  CHECK(out.find("tollgate_ring_capacity_bytes{shard=\"1\"} ") != std::string::npos);
  CHECK(out.find("tollgate_shards 2\n") != std::string::npos);
  CHECK(out.find("tollgate_ready 1\n") != std::string::npos);
  CHECK(out.find("# TYPE tollgate_events_accepted_total counter\n") != std::string::npos);
}

TEST_CASE("metrics page groups refusals by label: every label once, shared labels summed") {
  probe a;
  a.count(refusal::buffer_full);
  a.count(refusal::buffer_full_now);
  a.count(refusal::spool_failing);
  a.count(refusal::spool_write_failed);
  a.count(refusal::header_timeout);
  a.count(refusal::body_timeout);
  a.count(refusal::body_timeout);
  a.count(refusal::ack_timeout);
  a.count(refusal::sync_timeout);
  ring::event_ring r(4096);
  process_state p;
  p.probes = {&a};
  p.rings = {&r};
  std::string out;
  render_metrics_page(p, true, out);
  CHECK(out.find("tollgate_ingest_rejected_total{reason=\"buffer_full\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_ingest_rejected_total{reason=\"spool_error\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_ingest_rejected_total{reason=\"invalid_event\"} 0\n") != std::string::npos);
  CHECK(out.find("tollgate_http_errors_total{kind=\"header_timeout\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_http_errors_total{kind=\"body_timeout\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_ack_timeouts_total 2\n") != std::string::npos);
  // One sample per label: buffer_full appears once though two refusals share it.
  const auto first = out.find("reason=\"buffer_full\"");
  CHECK(out.find("reason=\"buffer_full\"", first + 1) == std::string::npos);
}

TEST_CASE("metrics page counts accept failures by reason, every reason present, and overload pauses") {
  probe a, b;
  a.count(accept_error::process_fd_limit);
  b.count(accept_error::process_fd_limit);
  b.count(accept_error::system_fd_limit);
  a.connections_shed.add(40);
  b.connections_shed.add(2);
  a.output_pauses.add(3);
  b.stash_overflows.add(1);
  ring::event_ring ra(4096), rb(4096);
  process_state p;
  p.probes = {&a, &b};
  p.rings = {&ra, &rb};
  std::string out;
  render_metrics_page(p, true, out);
  CHECK(out.find("tollgate_accept_errors_total{reason=\"process_fd_limit\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_accept_errors_total{reason=\"system_fd_limit\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_accept_errors_total{reason=\"no_memory\"} 0\n") != std::string::npos);
  CHECK(out.find("tollgate_accept_errors_total{reason=\"connection\"} 0\n") != std::string::npos);
  CHECK(out.find("tollgate_accept_errors_total{reason=\"other\"} 0\n") != std::string::npos);
  CHECK(out.find("tollgate_connections_shed_total 42\n") != std::string::npos);
  CHECK(out.find("tollgate_output_paused_total 3\n") != std::string::npos);
  CHECK(out.find("tollgate_input_overflows_total 1\n") != std::string::npos);
}

TEST_CASE("metrics page renders the pass-through's families summed over shards, gauges per shard") {
  probe a;
  ring::event_ring ra(4096);
  proxy_probe pa, pb;
  pa.count(classify_method(http::method::get), 200);
  pb.count(classify_method(http::method::head), 204);
  pb.count(classify_method(http::method::post), 502);
  pa.failures[static_cast<std::size_t>(proxy_failure::connect)].add();
  pa.latency_seconds.observe(0.002);
  pb.response_bytes.add(2048);
  pb.in_flight.set(2);
  process_state p;
  p.probes = {&a};
  p.rings = {&ra};
  std::string out;
  render_metrics_page(p, true, out);
  CHECK(out.find("tollgate_proxy_") == std::string::npos);  // no pass-through: no families
  p.proxy_probes = {&pa, &pb};
  render_metrics_page(p, true, out);
  CHECK(out.find("tollgate_proxy_requests_total{method=\"read\",code=\"2xx\"} 2\n") != std::string::npos);
  CHECK(out.find("tollgate_proxy_requests_total{method=\"write\",code=\"5xx\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_proxy_failures_total{reason=\"connect\"} 1\n") != std::string::npos);
  CHECK(out.find("tollgate_proxy_upstream_latency_seconds_count 1\n") != std::string::npos);
  CHECK(out.find("tollgate_proxy_response_bytes_total 2048\n") != std::string::npos);
  CHECK(out.find("tollgate_proxy_in_flight{shard=\"1\"} 2\n") != std::string::npos);
  CHECK(out.find("# TYPE tollgate_proxy_upstream_latency_seconds histogram\n") != std::string::npos);
}
