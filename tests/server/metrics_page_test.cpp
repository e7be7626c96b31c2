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
