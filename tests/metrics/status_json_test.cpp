// SPDX-License-Identifier: Apache-2.0
// status.json: valid JSON with each shard's counters under the keys the page
// reads, upstream and spool parts only when configured, the p99 bucket bound,
// and the compiled-in page is the self-contained HTML that polls status.json.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <cmath>
#include <string>
#include <vector>

#include "tollgate/metrics/status_json.hpp"

using namespace tg::metrics;

namespace {

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  auto r = p.parse(json);
  REQUIRE_MESSAGE(r.error() == simdjson::SUCCESS, json);
  return r.value();
}

std::string render(const process_view& v, double now = 1700000000.25, std::string_view version = "1.2.3") {
  std::string out;
  render_status_json(v, {now, version}, out);
  return out;
}

}  // namespace

TEST_CASE("status.json reports each shard's totals, buffer fill and rejections") {
  shard_metrics a, b;
  a.events_accepted.add(1000);
  a.event_bytes_accepted.add(250000);
  b.events_accepted.add(7);
  a.count_request(endpoint::ingest_v1, 204);
  a.count_request(endpoint::ingest_v3, 202);
  a.count_request(endpoint::ingest_v1, 400);
  a.count_request(endpoint::ingest_v1, 503);
  a.count_request(endpoint::metrics, 200);  // not an ingest answer: not counted
  a.ingest_rejected[static_cast<std::size_t>(reject_reason::invalid_event)].add(3);
  b.ingest_rejected[static_cast<std::size_t>(reject_reason::buffer_full)].add(2);
  b.http_errors[static_cast<std::size_t>(http_error::malformed)].add(4);
  a.connections_open.set(12);
  std::vector<shard_view> shards = {{&a, 256, 1024}, {&b, 0, 1024}};
  output_metrics out_m;
  out_m.events_written.add(1005);
  out_m.bytes_written.add(99);
  process_view v{shards, &out_m, 1699999000.5, false};

  const std::string json = render(v);
  simdjson::dom::parser p;
  const auto r = parse(p, json);
  CHECK(std::int64_t(r["schema"]) == status_schema);
  CHECK(std::string_view(r["version"]) == "1.2.3");
  CHECK(double(r["time"]) == doctest::Approx(1700000000.25));
  CHECK(double(r["start_time"]) == doctest::Approx(1699999000.5));
  CHECK_FALSE(bool(r["ready"]));
  CHECK_FALSE(bool(r["upstream"]));
  CHECK_FALSE(bool(r["spool"]));
  simdjson::dom::array s = r["shards"];
  REQUIRE(s.size() == 2);
  const auto s0 = s.at(0), s1 = s.at(1);
  CHECK(std::int64_t(s0["shard"]) == 0);
  CHECK(std::int64_t(s1["shard"]) == 1);
  CHECK(std::int64_t(s0["events_in"]) == 1000);
  CHECK(std::int64_t(s0["event_bytes_in"]) == 250000);
  CHECK(std::int64_t(s1["events_in"]) == 7);
  CHECK(s0["events_out"].is_null());  // no upstream: the output is one thread for all shards
  CHECK(std::int64_t(s0["ingest_requests"]) == 4);
  CHECK(std::int64_t(s0["ingest_4xx"]) == 1);
  CHECK(std::int64_t(s0["ingest_5xx"]) == 1);
  CHECK(std::int64_t(s0["connections"]) == 12);
  CHECK(std::int64_t(s0["buffer"]["used_bytes"]) == 256);
  CHECK(std::int64_t(s0["buffer"]["capacity_bytes"]) == 1024);
  CHECK(std::int64_t(s0["rejected"]["invalid_event"]) == 3);
  CHECK(std::int64_t(s0["rejected"]["buffer_full"]) == 0);
  CHECK(std::int64_t(s1["rejected"]["buffer_full"]) == 2);
  CHECK(std::int64_t(s1["http_errors"]["malformed"]) == 4);
  // Every reason and kind is present, zero or not, so the page can diff them.
  CHECK(simdjson::dom::object(s0["rejected"]).size() == reject_reason_count);
  CHECK(simdjson::dom::object(s0["http_errors"]).size() == http_error_count);
  CHECK(s0["upstream"].is_null());
  CHECK(s0["spool"].is_null());
  CHECK(std::int64_t(r["output"]["events"]) == 1005);
  CHECK(std::int64_t(r["output"]["bytes"]) == 99);
  CHECK(std::int64_t(r["output"]["write_errors"]) == 0);
}

TEST_CASE("status.json gives upstream state, outcomes, latency buckets and p99 per shard") {
  shard_metrics a, b;
  a.events_accepted.add(100);
  a.upstream.events_delivered.add(90);
  a.upstream.events_dead_lettered.add(4);
  a.upstream.connections_open.set(3);
  a.upstream.retries.add(5);
  a.upstream.connect_failures.add(1);
  a.upstream.outcomes[status_index(204)].add(40);
  a.upstream.outcomes[status_index(503)].add(2);
  a.upstream.outcomes[upstream_network_error].add(1);
  a.upstream.outcomes[upstream_timeout].add(6);
  a.upstream.unknown_status[4].add(1);  // e.g. a 418
  for (int i = 0; i < 98; ++i) a.upstream.latency_seconds.observe(0.004);  // le=0.005
  a.upstream.latency_seconds.observe(0.2);                                 // le=0.25
  a.upstream.latency_seconds.observe(0.2);
  b.upstream.backing_off.set(1);
  b.upstream.latency_seconds.observe(30);  // past the last bound: +Inf
  std::vector<shard_view> shards = {{&a, 0, 64}, {&b, 0, 64}};
  process_view v{shards, nullptr, 0, true, true};

  const std::string json = render(v);
  simdjson::dom::parser p;
  const auto r = parse(p, json);
  CHECK(bool(r["upstream"]));
  CHECK(r["output"].is_null());
  const auto s0 = r["shards"].at(0), s1 = r["shards"].at(1);
  CHECK(std::int64_t(s0["events_out"]) == 90);
  CHECK(std::int64_t(s0["dead_lettered"]) == 4);
  const auto u = s0["upstream"];
  CHECK(std::string_view(u["state"]) == "connected");
  CHECK(std::string_view(s1["upstream"]["state"]) == "backing_off");
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
  const auto& bounds = a.upstream.latency_seconds.bounds();
  REQUIRE(le.size() == bounds.size());
  REQUIRE(counts.size() == bounds.size() + 1);  // the last is +Inf
  std::size_t i = 0;
  for (double bound : le) CHECK(bound == doctest::Approx(bounds[i++]));
  std::int64_t total = 0;
  for (std::int64_t c : counts) total += c;
  CHECK(total == 100);
  CHECK(std::int64_t(counts.at(2)) == 98);  // le=0.005
  CHECK(double(u["p99_s"]) == doctest::Approx(0.25));  // rank 99 of 100 falls in le=0.25
  CHECK(s1["upstream"]["p99_s"].is_null());  // in the +Inf bucket: no bound to give
  CHECK(std::int64_t(s1["upstream"]["latency_s"]["counts"].at(bounds.size())) == 1);

  shard_metrics idle;
  std::vector<shard_view> one = {{&idle, 0, 64}};
  const std::string j2 = render(process_view{one, nullptr, 0, true, true});
  const auto r2 = parse(p, j2);
  CHECK(std::string_view(r2["shards"].at(0)["upstream"]["state"]) == "idle");
  CHECK(r2["shards"].at(0)["upstream"]["p99_s"].is_null());  // no batch yet
}

TEST_CASE("status.json gives the spool's bytes, segments and failing flag with a spool") {
  shard_metrics a;
  a.spool.bytes.set(1 << 20);
  a.spool.segments.set(3);
  a.spool.failing.set(1);
  a.spool.write_errors.add(2);
  std::vector<shard_view> shards = {{&a, 0, 64}};
  simdjson::dom::parser p;
  const std::string json = render(process_view{shards, nullptr, 0, true, true, true});
  const auto sp = parse(p, json)["shards"].at(0)["spool"];
  CHECK(std::int64_t(sp["bytes"]) == 1 << 20);
  CHECK(std::int64_t(sp["segments"]) == 3);
  CHECK(bool(sp["failing"]));
  CHECK(std::int64_t(sp["write_errors"]) == 2);
}

TEST_CASE("status.json stays valid JSON with no shard, odd versions and a non-finite time") {
  simdjson::dom::parser p;
  const std::string json = render(process_view{{}, nullptr, 0, true}, NAN, "v\"1\\\n");
  const auto r = parse(p, json);
  CHECK(r["time"].is_null());
  CHECK(std::string_view(r["version"]) == "v\"1\\");
  CHECK(simdjson::dom::array(r["shards"]).size() == 0);
}

TEST_CASE("the status page is one self-contained HTML document that polls status.json") {
  const std::string_view page = status_page_html();
  CHECK(page.starts_with("<!doctype html>"));
  CHECK(page.find("</html>") != std::string_view::npos);
  CHECK(page.find("fetch(\"status.json\"") != std::string_view::npos);  // relative: works under any prefix
  CHECK(page.find("setTimeout(poll, 1000)") != std::string_view::npos);
  for (std::string_view external : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import"}) {
    CAPTURE(external);
    CHECK(page.find(external) == std::string_view::npos);
  }
}
