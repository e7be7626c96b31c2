// SPDX-License-Identifier: Apache-2.0
// The final report: the JSON object is valid JSON with every number scripts
// read (accepted_events, status counts, errors, latency percentiles), and the
// text report names the same figures.
#include <doctest/doctest.h>

#include <simdjson.h>

#include "options.hpp"
#include "report.hpp"

using namespace tg::load;

namespace {
stats sample() {
  stats s;
  s.sent = 12;
  s.responses = 10;
  s.events_sent = 60;
  s.events_answered = 50;
  s.accepted_events = 40;
  s.connects = 2;
  s.status[204] = 8;
  s.status[429] = 2;
  s.errors.status = 2;
  s.errors.timeout = 2;
  for (std::uint64_t v = 1; v <= 10; ++v) s.latency.record(v * 1000);
  return s;
}
}  // namespace

TEST_CASE("the JSON report is one valid object with every figure") {
  const parse_outcome p = parse_options(std::vector<std::string_view>{"-k", "5", "--rate", "100"});
  REQUIRE(p.status == parse_status::ok);
  const stats s = sample();
  const std::string json = render_json({p.opts, s, 2.0});
  CHECK(json.back() == '\n');
  CHECK(json.find('\n') == json.size() - 1);
  simdjson::dom::parser parser;
  simdjson::dom::element r = parser.parse(json);
  CHECK(std::string_view(r["mode"]) == "open");
  CHECK(std::int64_t(r["requests"]) == 10);
  CHECK(std::int64_t(r["sent"]) == 12);
  CHECK(std::int64_t(r["accepted_events"]) == 40);
  CHECK(std::int64_t(r["events"]) == 50);
  CHECK(double(r["requests_per_s"]) == doctest::Approx(5.0));
  CHECK(double(r["events_per_s"]) == doctest::Approx(25.0));
  CHECK(std::int64_t(r["status"]["204"]) == 8);
  CHECK(std::int64_t(r["status"]["429"]) == 2);
  CHECK(std::int64_t(r["errors"]["timeout"]) == 2);
  CHECK(std::int64_t(r["errors"]["non_2xx"]) == 2);
  CHECK(std::int64_t(r["errors"]["total"]) == 4);
  CHECK(double(r["latency_us"]["p50"]) == doctest::Approx(5.0).epsilon(0.001));  // bucket precision
  CHECK(double(r["latency_us"]["max"]) == doctest::Approx(10.0));
  for (const char* k : {"p90", "p99", "p99_9", "min", "mean"}) CHECK(r["latency_us"][k].is_number());
}

TEST_CASE("the text report and the progress line name the figures") {
  const parse_outcome p = parse_options(std::vector<std::string_view>{});
  const stats s = sample();
  const std::string text = render_text({p.opts, s, 2.0});
  for (const char* part : {"closed loop", "10 answered (5.0/s)", "40 accepted", "204: 8", "429: 2", "timeout 2",
                           "p99.9", "max 10.0us"}) {
    CAPTURE(part);
    CHECK(text.find(part) != std::string::npos);
  }
  stats before;
  const std::string line = render_progress(3, s, before, 1.0);
  CHECK(line.find("10 req/s") != std::string::npos);
  CHECK(line.find("4 errors") != std::string::npos);
  CHECK(line.find("p99 10.0us") != std::string::npos);
}

TEST_CASE("a run fails when no request got a 2xx answer") {
  const options o = parse_options(std::vector<std::string_view>{}).opts;
  stats s;
  s.sent = 10;
  s.responses = 10;
  s.status[404] = 10;
  s.errors.status = 10;
  const std::string why = run_failure(o, s);
  CHECK(why.find("no request got a 2xx answer") != std::string::npos);
  CHECK(why.find("10 sent") != std::string::npos);
  CHECK_FALSE(run_failure(o, stats{}).empty());  // nothing sent at all is no success either
  s.status[204] = 1;
  CHECK(run_failure(o, s).empty());  // one success and no --max-error-rate: fine
}

TEST_CASE("--max-error-rate fails a run whose non-2xx share is above it, timeouts included") {
  options o = parse_options(std::vector<std::string_view>{"--max-error-rate", "0.1"}).opts;
  stats s;
  s.sent = 100;
  s.responses = 95;
  s.status[204] = 90;
  s.status[503] = 5;
  s.errors.timeout = 5;  // sent, never answered: not a 2xx either
  std::string why = run_failure(o, s);  // 10% exactly: not above
  CHECK(why.empty());
  s.status[204] = 89;
  s.status[503] = 6;
  why = run_failure(o, s);
  CHECK(why.find("11%") != std::string::npos);
  CHECK(why.find("--max-error-rate 10%") != std::string::npos);
  o.max_error_rate = 0.2;
  CHECK(run_failure(o, s).empty());
}

TEST_CASE("the reports name the URL requests went to: a base URL with /api/v1/events") {
  const parse_outcome p = parse_options(std::vector<std::string_view>{"http://127.0.0.1:7/gw"});
  REQUIRE(p.status == parse_status::ok);
  const stats s = sample();
  CHECK(render_text({p.opts, s, 1.0}).find("-> http://127.0.0.1:7/gw/api/v1/events") != std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element r = parser.parse(render_json({p.opts, s, 1.0}));
  CHECK(std::string_view(r["target"]) == "http://127.0.0.1:7/gw");
  CHECK(std::string_view(r["url"]) == "http://127.0.0.1:7/gw/api/v1/events");
}
