// SPDX-License-Identifier: Apache-2.0
// Generated events: ids unique over 100k events, across generators of one run
// and across threads; every body valid per the front door's validator, as a
// single event and as a batch; fields as in the seed's generator; the
// seeder's times spread over the last three days.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <ctime>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "event_generator.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/cloudevents/validator.hpp"

using namespace tg::load;
namespace ce = tg::cloudevents;

namespace {

constexpr std::uint64_t run = 0x0123456789abcdefull;

// Bodies as the gateway sees them: followed by simdjson's padding.
bool valid(std::string body, unsigned k, std::vector<ce::event_ref>& events, ce::error& err) {
  ce::validator v;
  const std::size_t n = body.size();
  body.append(64, '\0');
  return v.validate(std::string_view(body.data(), n), ce::classify(event_generator::content_type(k)), ce::api::v1,
                    events, err);
}

std::vector<std::string> ids_of(const std::string& batch_body) {
  simdjson::dom::parser p;
  std::vector<std::string> ids;
  for (simdjson::dom::element e : p.parse(batch_body).get_array()) ids.emplace_back(std::string_view(e["id"]));
  return ids;
}

std::time_t parse_time(std::string_view t) {
  std::tm tm{};
  int ms = 0;
  REQUIRE(t.size() == tg::rfc3339_millis_len);
  REQUIRE(std::sscanf(std::string(t).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

}  // namespace

TEST_CASE("ids are unique over 100k events and across two generators of a run") {
  event_generator a(generator_options{run, 0, 1});
  event_generator b(generator_options{run, 1, 1});  // same seed: only the stream differs
  std::unordered_set<std::string> seen;
  const timespec now = tg::wall_now();
  for (int round = 0; round < 1000; ++round) {
    for (event_generator* g : {&a, &b}) {
      std::string body;
      g->append_body(body, 50, now);
      for (std::string& id : ids_of(body)) REQUIRE(seen.insert(std::move(id)).second);
    }
  }
  CHECK(seen.size() == 100000);
  CHECK(a.generated() == 50000);
}

TEST_CASE("ids stay unique across generators running on different threads") {
  constexpr unsigned threads = 4;
  constexpr unsigned per_thread = 25000;
  std::vector<std::vector<std::string>> ids(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([t, &ids] {
      event_generator g(generator_options{run, static_cast<std::uint16_t>(t), 42});
      simdjson::dom::parser p;
      for (unsigned i = 0; i < per_thread / 100; ++i) {
        std::string body;
        g.append_body(body, 100, tg::wall_now());
        for (simdjson::dom::element e : p.parse(body).get_array()) ids[t].emplace_back(std::string_view(e["id"]));
      }
    });
  }
  for (auto& th : pool) th.join();
  std::unordered_set<std::string> seen;
  for (auto& v : ids)
    for (auto& id : v) REQUIRE(seen.insert(id).second);
  CHECK(seen.size() == threads * per_thread);
}

TEST_CASE("ids look like UUIDs and differ between runs") {
  event_generator a(generator_options{random_u64(), 3, 1});
  event_generator b(generator_options{random_u64(), 3, 1});
  simdjson::dom::parser p;
  std::string ea, eb;
  const timespec now = tg::wall_now();
  a.append_event(ea, now);
  b.append_event(eb, now);
  const std::string ida(std::string_view(p.parse(ea)["id"]));
  const std::string idb(std::string_view(p.parse(eb)["id"]));
  CHECK(ida != idb);
  REQUIRE(ida.size() == 36);
  for (std::size_t i : {8u, 13u, 18u, 23u}) CHECK(ida[i] == '-');
  CHECK(ida.substr(19, 4) == "0003");  // the stream
  CHECK(ida.substr(24) == "000000000000");
}

TEST_CASE("every generated body passes the front door's validator") {
  event_generator g(generator_options{run, 0, 99});
  std::vector<ce::event_ref> events;
  ce::error err;
  for (unsigned k : {1u, 2u, 5u, 100u, 1000u}) {
    CAPTURE(k);
    for (int i = 0; i < 20; ++i) {
      std::string body;
      g.append_body(body, k, tg::wall_now());
      CHECK_MESSAGE(valid(body, k, events, err), err.detail);
      CHECK(events.size() == k);
      for (const ce::event_ref& e : events) CHECK(e.fix == ce::time_fix::none);  // time is always set
    }
  }
  CHECK(event_generator::content_type(1) == "application/cloudevents+json");
  CHECK(event_generator::content_type(2) == "application/cloudevents-batch+json");
  CHECK(ce::classify(event_generator::content_type(1)) == ce::media_type::single);
  CHECK(ce::classify(event_generator::content_type(7)) == ce::media_type::batch);
}

TEST_CASE("generated events carry the seed generator's fields") {
  event_generator g(generator_options{run, 0, 5});
  std::string body;
  const timespec now = tg::wall_now();
  g.append_body(body, 2000, now);
  simdjson::dom::parser p;
  std::unordered_set<std::string> subjects, paths, zones;
  for (simdjson::dom::element e : p.parse(body).get_array()) {
    CHECK(std::string_view(e["specversion"]) == "1.0");
    CHECK(std::string_view(e["type"]) == "api-calls");
    CHECK(std::string_view(e["source"]) == "api-gateway");
    const std::string_view subject(e["subject"]);
    REQUIRE(subject.substr(0, 9) == "customer-");
    CHECK(std::stoi(std::string(subject.substr(9))) < 100);
    subjects.emplace(subject);
    CHECK(std::llabs(parse_time(std::string_view(e["time"])) - now.tv_sec) <= 1);
    const std::string_view method(e["data"]["method"]);
    CHECK((method == "GET" || method == "POST"));
    paths.emplace(std::string_view(e["data"]["path"]));
    const std::string_view region(e["data"]["region"]);
    const std::string_view zone(e["data"]["zone"]);
    CHECK(zone.substr(0, region.size()) == region);
    zones.emplace(zone);
    const std::int64_t d = e["data"]["duration_ms"];
    CHECK((d >= 0 && d <= 1000));
  }
  CHECK(subjects.size() == 100);  // 2000 draws cover 100 subjects
  CHECK(paths.size() == 5);
  CHECK(zones.size() == 16);
}

TEST_CASE("the seeder's times spread over the last three days") {
  event_generator g(generator_options{run, 0, 5, time_mode::past_days});
  std::string body;
  const timespec now = tg::wall_now();
  g.append_body(body, 1000, now);
  simdjson::dom::parser p;
  std::time_t lo = now.tv_sec, hi = 0;
  for (simdjson::dom::element e : p.parse(body).get_array()) {
    const std::time_t t = parse_time(std::string_view(e["time"]));
    CHECK(t >= now.tv_sec - past_span_s + past_min_offset_s);
    CHECK(t <= now.tv_sec);
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  CHECK(hi - lo > 2 * 24 * 3600);  // actually spread, not bunched
}
