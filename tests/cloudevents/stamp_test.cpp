// SPDX-License-Identifier: Apache-2.0
// stamp(): the stamped event must parse, carry `now` as its time and be equal
// to the original in every other attribute; stamped_size() must match.
#include <doctest/doctest.h>
#include <simdjson.h>

#include "test_util.hpp"

using namespace tg::cloudevents;
using test::E;
using test::run;

namespace {

constexpr std::string_view now = "2026-11-27T09:10:08.123Z";

std::string stamped(const test::outcome& r, const event_ref& ev) {
  std::string out(stamped_size(ev), '\0');
  std::size_t n = stamp(r.body, ev, now, out.data());
  CHECK(n == out.size());
  return out;
}

// Parses both and checks they differ only in `time`, which must be `now`.
void check_equal_but_time(const std::string& original, const std::string& result) {
  simdjson::dom::parser p1, p2;
  simdjson::dom::object a, b;
  REQUIRE(p1.parse(original).get(a) == simdjson::SUCCESS);
  REQUIRE(p2.parse(result).get(b) == simdjson::SUCCESS);
  std::string_view t;
  REQUIRE(b["time"].get(t) == simdjson::SUCCESS);
  CHECK(t == now);
  std::size_t na = 0, nb = 0;
  for (auto [k, v] : a) {
    if (k != "time") {
      ++na;
      simdjson::dom::element other;
      REQUIRE(b[k].get(other) == simdjson::SUCCESS);
      CHECK(simdjson::minify(v) == simdjson::minify(other));
    }
  }
  for (auto [k, v] : b) nb += k != "time";
  CHECK(na == nb);
}

}  // namespace

TEST_CASE("stamp inserts time into an event without one") {
  std::string body = E().drop("time").str();
  auto r = run(body);
  REQUIRE(r.ok);
  REQUIRE(r.events[0].fix == time_fix::insert);
  CHECK(stamped_size(r.events[0]) == body.size() + 10 + now.size());
  std::string out = stamped(r, r.events[0]);
  CHECK(out.starts_with(std::string("{\"time\":\"") + std::string(now) + "\",\"specversion\""));
  check_equal_but_time(body, out);
}

TEST_CASE("stamp replaces a null time") {
  std::string body = E().set("time", "null").str();
  auto r = run(body);
  REQUIRE(r.ok);
  REQUIRE(r.events[0].fix == time_fix::replace_null);
  CHECK(stamped_size(r.events[0]) == body.size() + now.size() + 2 - 4);
  std::string out = stamped(r, r.events[0]);
  CHECK(out.find("\"time\":\"" + std::string(now) + "\"") != std::string::npos);
  check_equal_but_time(body, out);
}

TEST_CASE("stamp copies an event with a time byte for byte") {
  std::string body = "  " + E().str() + "\n";
  auto r = run(body);
  REQUIRE(r.ok);
  CHECK(stamped_size(r.events[0]) == E().str().size());
  CHECK(stamped(r, r.events[0]) == E().str());
}

TEST_CASE("stamped seed batch events form a valid batch") {
  std::string body = test::read_file(TEST_DATA_DIR "/batch.json");
  auto r = run(body, media_type::batch);
  REQUIRE(r.ok);
  std::string batch = "[";
  for (const auto& ev : r.events) {
    std::string out = stamped(r, ev);
    check_equal_but_time(test::slice(r, ev), out);
    if (batch.size() > 1) batch += ',';
    batch += out;
  }
  batch += ']';
  auto again = run(batch, media_type::batch);
  CHECK(again.ok);
  CHECK(again.events.size() == 3);
  for (const auto& ev : again.events) CHECK(ev.fix == time_fix::none);
}

TEST_CASE("stamped_size follows the length of now") {
  event_ref ev{10, 110, time_fix::insert, 11};
  CHECK(stamped_size(ev) == 100 + 10 + 24);
  CHECK(stamped_size(ev, 30) == 100 + 10 + 30);
  ev.fix = time_fix::replace_null;
  CHECK(stamped_size(ev) == 100 + 24 - 2);
  ev.fix = time_fix::none;
  CHECK(stamped_size(ev) == 100);
}
