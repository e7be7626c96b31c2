// SPDX-License-Identifier: Apache-2.0
// status.json: valid JSON with each shard's counters under the keys the page
// reads, the output's and the spool's parts only when configured, and the
// compiled-in page is the self-contained HTML that polls status.json.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/output/jsonl/writer.hpp"
#include "tollgate/server/status.hpp"

using namespace tg;
using namespace tg::server;

namespace {

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& json) {
  auto r = p.parse(json);
  REQUIRE_MESSAGE(r.error() == simdjson::SUCCESS, json);
  return r.value();
}

std::string render(const process_state& p, double now = 1700000000.25, std::string_view version = "1.2.3",
                   bool ready = true) {
  std::string out;
  render_status_json(p, {now, version, ready}, out);
  return out;
}

// Shards with their probes and rings, as the gateway sets them up.
struct shards {
  std::vector<std::unique_ptr<probe>> probes;
  std::vector<std::unique_ptr<ring::event_ring>> rings;
  process_state p;
  explicit shards(std::size_t n, std::size_t ring_bytes = 4096) {
    for (std::size_t i = 0; i < n; ++i) {
      probes.push_back(std::make_unique<probe>());
      rings.push_back(std::make_unique<ring::event_ring>(ring_bytes));
      p.probes.push_back(probes.back().get());
      p.rings.push_back(rings.back().get());
    }
  }
};

std::size_t distinct_labels(refusal_family fam) {
  std::vector<std::string_view> seen;
  for (std::size_t r = 0; r < refusal_count; ++r) {
    const refusal_info& i = describe(static_cast<refusal>(r));
    if (i.family != fam) continue;
    bool dup = false;
    for (auto s : seen) dup = dup || s == i.label;
    if (!dup) seen.push_back(i.label);
  }
  return seen.size();
}

}  // namespace

TEST_CASE("status.json reports each shard's totals, buffer fill and refusals") {
  shards s(2, 4096);
  probe& a = *s.probes[0];
  probe& b = *s.probes[1];
  a.events_accepted.add(1000);
  a.event_bytes_accepted.add(250000);
  b.events_accepted.add(7);
  a.count_request(endpoint::ingest_v1, 204);
  a.count_request(endpoint::ingest_v3, 202);
  a.count_request(endpoint::ingest_v1, 400);
  a.count_request(endpoint::ingest_v1, 503);
  a.count_request(endpoint::metrics, 200);  // not an ingest answer: not counted
  a.count(refusal::invalid_event);
  a.count(refusal::invalid_event);
  a.count(refusal::invalid_event);
  b.count(refusal::buffer_full);
  b.count(refusal::buffer_full_now);
  b.count(refusal::malformed_request);
  a.connections_open.set(12);
  char* dst = s.rings[0]->try_reserve(200);
  REQUIRE(dst != nullptr);
  s.rings[0]->commit();
  output::jsonl_backend out_b({"file:/dev/null", 10});
  s.p.output = &out_b;
  s.p.start_time_seconds = 1699999000.5;

  const std::string json = render(s.p, 1700000000.25, "1.2.3", false);
  simdjson::dom::parser p;
  const auto r = parse(p, json);
  CHECK(std::int64_t(r["schema"]) == status_schema);
  CHECK(std::string_view(r["version"]) == "1.2.3");
  CHECK(double(r["time"]) == doctest::Approx(1700000000.25));
  CHECK(double(r["start_time"]) == doctest::Approx(1699999000.5));
  CHECK_FALSE(bool(r["ready"]));
  CHECK_FALSE(bool(r["upstream"]));
  CHECK_FALSE(bool(r["spool"]));
  simdjson::dom::array sh = r["shards"];
  REQUIRE(sh.size() == 2);
  const auto s0 = sh.at(0), s1 = sh.at(1);
  CHECK(std::int64_t(s0["shard"]) == 0);
  CHECK(std::int64_t(s1["shard"]) == 1);
  CHECK(std::int64_t(s0["events_in"]) == 1000);
  CHECK(std::int64_t(s0["event_bytes_in"]) == 250000);
  CHECK(std::int64_t(s1["events_in"]) == 7);
  CHECK(s0["events_out"].is_null());  // no per-shard output: one thread for all shards
  CHECK(std::int64_t(s0["ingest_requests"]) == 4);
  CHECK(std::int64_t(s0["ingest_4xx"]) == 1);
  CHECK(std::int64_t(s0["ingest_5xx"]) == 1);
  CHECK(std::int64_t(s0["connections"]) == 12);
  CHECK(std::int64_t(s0["buffer"]["used_bytes"]) > 0);
  CHECK(std::int64_t(s0["buffer"]["capacity_bytes"]) == 4096);
  CHECK(std::int64_t(s0["rejected"]["invalid_event"]) == 3);
  CHECK(std::int64_t(s0["rejected"]["buffer_full"]) == 0);
  CHECK(std::int64_t(s1["rejected"]["buffer_full"]) == 2);  // 503 and 429 share the label
  CHECK(std::int64_t(s1["http_errors"]["malformed"]) == 1);
  // Every reason and kind is present, zero or not, so the page can diff them.
  CHECK(simdjson::dom::object(s0["rejected"]).size() == distinct_labels(refusal_family::ingest));
  CHECK(simdjson::dom::object(s0["http_errors"]).size() == distinct_labels(refusal_family::http_error));
  CHECK(s0["upstream"].is_null());
  CHECK(s0["spool"].is_null());
  CHECK(std::int64_t(r["output"]["events"]) == 0);
  CHECK(std::int64_t(r["output"]["write_errors"]) == 0);
}

TEST_CASE("status.json carries the HTTP output's per-shard part") {
  shards s(2);
  upstream::options o;
  o.url = "http://127.0.0.1:9";
  o.dead_letter_path = "/dev/null";
  upstream::backend http(o);
  http.prepare(2);
  s.p.output = &http;
  s.probes[0]->events_accepted.add(100);
  http.probe_of(0).events_delivered.add(90);
  http.probe_of(0).events_dead_lettered.add(4);
  http.probe_of(1).backing_off.set(1);
  simdjson::dom::parser p;
  const auto r = parse(p, render(s.p));
  CHECK(bool(r["upstream"]));
  CHECK(r["output"].is_null());
  const auto s0 = r["shards"].at(0);
  CHECK(std::int64_t(s0["events_out"]) == 90);
  CHECK(std::int64_t(s0["dead_lettered"]) == 4);
  CHECK(std::int64_t(s0["upstream"]["waiting"]) == 6);
  CHECK(std::string_view(r["shards"].at(1)["upstream"]["state"]) == "backing_off");
}

TEST_CASE("status.json gives the spool's bytes, segments and failing flag with a spool") {
  shards s(1);
  spool::probe sp_probe;
  sp_probe.bytes.set(1 << 20);
  sp_probe.segments.set(3);
  sp_probe.failing.set(1);
  sp_probe.write_errors.add(2);
  s.p.spool_probes.push_back(&sp_probe);
  simdjson::dom::parser p;
  const auto r = parse(p, render(s.p));
  CHECK(bool(r["spool"]));
  const auto sp = r["shards"].at(0)["spool"];
  CHECK(std::int64_t(sp["bytes"]) == 1 << 20);
  CHECK(std::int64_t(sp["segments"]) == 3);
  CHECK(bool(sp["failing"]));
  CHECK(std::int64_t(sp["write_errors"]) == 2);
}

TEST_CASE("status.json stays valid JSON with no shard, odd versions and a non-finite time") {
  process_state none;
  simdjson::dom::parser p;
  const std::string json = render(none, NAN, "v\"1\\\n");
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
