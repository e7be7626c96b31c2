// SPDX-License-Identifier: Apache-2.0
// Body-level behaviour: shapes per media type, malformed JSON, trailing bytes,
// the seed files, exact event byte ranges, max_events, whole-request rejection.
#include <doctest/doctest.h>

#include "test_util.hpp"

using namespace tg::cloudevents;
using test::E;
using test::run;

namespace {

std::string array_of(const std::vector<std::string>& items, std::string_view sep = ",") {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out + "]";
}

std::string numbered(int i) { return E().set("id", "\"id" + std::to_string(i) + "\"").str(); }

}  // namespace

TEST_CASE("validator accepts the seed event.json and inserts time after its brace") {
  std::string body = test::read_file(TEST_DATA_DIR "/event.json");
  REQUIRE(body.size() > 100);
  auto r = run(body, media_type::single);
  REQUIRE(r.ok);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].begin == 0);
  std::string trimmed = body.substr(0, body.find_last_not_of(" \r\n\t") + 1);
  CHECK(r.events[0].end == trimmed.size());
  CHECK(r.events[0].fix == time_fix::insert);
  CHECK(r.events[0].at == 1);
}

TEST_CASE("validator accepts the seed batch.json with the exact byte range of each event") {
  std::string body = test::read_file(TEST_DATA_DIR "/batch.json");
  auto r = run(body, media_type::batch);
  REQUIRE(r.ok);
  REQUIRE(r.events.size() == 3);
  // Expected ranges by an independent brace count (the seed has no braces in strings).
  std::vector<std::pair<std::size_t, std::size_t>> want;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '{' && depth++ == 0) start = i;
    if (body[i] == '}' && --depth == 0) want.emplace_back(start, i + 1);
  }
  REQUIRE(want.size() == 3);
  const char* ids[] = {"86ab0f19-", "3046317d-", "64121dc0-"};
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(r.events[i].begin == want[i].first);
    CHECK(r.events[i].end == want[i].second);
    CHECK(r.events[i].fix == time_fix::insert);
    CHECK(r.events[i].at == want[i].first + 1);
    CHECK(test::slice(r, r.events[i]).find(ids[i]) != std::string::npos);
  }
}

TEST_CASE("validator rejects an empty body") {  // C6
  for (std::string body : {"", "   ", "\r\n\t "}) {
    auto r = run(body);
    CHECK_FALSE(r.ok);
    CHECK(r.err.code == errc::empty_body);
  }
}

TEST_CASE("validator rejects a body that is not JSON") {  // T14, C7
  auto r = run("invalid");
  CHECK_FALSE(r.ok);
  CHECK(r.err.code == errc::malformed_json);
  CHECK(r.err.detail.starts_with("malformed JSON: "));
  CHECK(r.events.empty());
}

TEST_CASE("validator rejects malformed JSON anywhere in an event") {
  const std::string bad[] = {
      R"({"id":"a" "source":"s"})",
      E().set("data", R"({"a":tru})").str(),
      E().set("data", R"({"a":[1,2,]})").str(),
      E().set("data", R"({"a":01})").str(),
      E().set("data", R"({"a":1.})").str(),
      E().set("data", R"({"a":"\q"})").str(),
      E().set("data", R"({"a":"\u12"})").str(),
      E().set("data", R"({"a\x":1})").str(),
      E().set("data", R"({"a":nul})").str(),
      E().set("id", R"("bad\escape")").str(),
      E().set("data", "{\"a\":\"tab\there\"}").str(),
      E().set("data", "{\"a\":\"\xff\"}").str(),
      E().set("region", "[1 2]").str(),
      E().str() + ",",
      "{" + E().str().substr(1) + "}",
      E().str().substr(0, 40),
  };
  for (const auto& body : bad) {
    CAPTURE(body);
    auto r = run(body);
    CHECK_FALSE(r.ok);
    CHECK(r.err.code == errc::malformed_json);
  }
}

// Guards the fast paths in event_check.cpp's walk(): scalars in `data` are
// checked inline, strings are consumed without a second look, and escapes are
// checked only when the body holds a backslash at all.
TEST_CASE("validator checks every scalar in data on every path") {
  const std::string bad_data[] = {
      R"({"a":"x"y})", R"({"a":[tru]})", R"({"a":{"b":[1,-]}})", R"({"a":[[-01]]})",
      R"({"a":1e})", R"({"a":.5})", R"({"a":+1})", R"({"a":falsey})", R"({"a":[null,nulll]})",
      R"({"a":{"b":{"c":"\u00g0"}}})", R"({"a":[{"b\y":1}]})", R"({"a":1,"b":"x" "c":2})",
  };
  for (const auto& data : bad_data) {
    CAPTURE(data);
    // Alone; after a valid escape elsewhere in the body; in a later event of a
    // batch whose earlier events are fine.
    const std::string bodies[] = {
        E().set("data", data).str(),
        E().set("subject", R"("c\u002d1")").set("data", data).str(),
        "[" + E().str() + "," + E().set("data", data).str() + "]",
    };
    for (const auto& body : bodies) {
      CAPTURE(body);
      auto r = run(body, media_type::json);
      CHECK_FALSE(r.ok);
      CHECK(r.err.code == errc::malformed_json);
    }
  }
  const std::string good_data[] = {
      R"({"a":"\u0041\n\"\\\/","b\tc":[-0.5e+3,1E5,0,true,false,null,"",{}],"d":{"e":[[]]}})",
      R"({"a":[1,"x",{"b":"y"}],"c":"z"})",
  };
  for (const auto& data : good_data) {
    CAPTURE(data);
    CHECK(run(E().set("data", data).str()).ok);
    CHECK(run("[" + E().str() + "," + E().set("data", data).str() + "]", media_type::batch).ok);
  }
}

TEST_CASE("validator rejects trailing bytes after the JSON value") {  // C17, a deliberate difference
  for (const std::string& tail : {std::string(" x"), std::string("{}"), std::string(" {\"a\":1}"),
                                  std::string("]"), std::string("\"s\""), std::string("0")}) {
    CAPTURE(tail);
    auto single = run(E().str() + tail, media_type::single);
    CHECK(single.err.code == errc::malformed_json);
    auto batch = run("[" + E().str() + "]" + tail, media_type::batch);
    CHECK(batch.err.code == errc::malformed_json);
  }
  auto r = run(E().str() + " {}");
  CHECK(r.err.detail.find("after the JSON value") != std::string::npos);
}

TEST_CASE("validator names the byte where data follows the JSON value") {
  for (const std::string& tail : {std::string(" x"), std::string("]"), std::string("\"s\""), std::string("0")}) {
    CAPTURE(tail);
    const std::string body = E().str() + tail;
    const std::size_t at = body.find_first_not_of(' ', E().str().size());
    auto single = run(body, media_type::single);
    CHECK(single.err.detail == "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(at));
  }
  // An error inside the value is still reported as itself.
  auto inner = run("{\"id\":tru} x", media_type::single);
  CHECK(inner.err.code == errc::malformed_json);
}

TEST_CASE("validator accepts white space around the JSON value") {
  auto r = run("\r\n\t " + E().str() + " \n");
  REQUIRE(r.ok);
  CHECK(r.events[0].begin == 4);
  CHECK(test::slice(r, r.events[0]) == E().str());
}

TEST_CASE("cloudevents+json rejects an array") {  // S17
  auto r = run("[" + E().str() + "]", media_type::single);
  CHECK_FALSE(r.ok);
  CHECK(r.err.code == errc::wrong_shape);
  CHECK(r.err.detail.find("must be a JSON object") != std::string::npos);
}

TEST_CASE("cloudevents+json rejects scalars as the wrong shape") {
  for (std::string body : {"null", "1", "\"x\"", "true"}) {
    CAPTURE(body);
    CHECK(run(body, media_type::single).err.code == errc::wrong_shape);
  }
}

TEST_CASE("cloudevents-batch+json rejects an object, null and scalars") {  // S18, S21
  for (std::string body : {E().str(), std::string("null"), std::string("42"), std::string("\"s\"")}) {
    CAPTURE(body);
    auto r = run(body, media_type::batch);
    CHECK_FALSE(r.ok);
    CHECK(r.err.code == errc::wrong_shape);
    CHECK(r.err.detail.find("must be a JSON array") != std::string::npos);
  }
}

TEST_CASE("the wrong shape is reported as malformed JSON when the body is not JSON") {
  CHECK(run("nul", media_type::batch).err.code == errc::malformed_json);
  CHECK(run("{\"a\":}", media_type::batch).err.code == errc::malformed_json);
  CHECK(run("[1,]", media_type::single).err.code == errc::malformed_json);
  CHECK(run("null x", media_type::batch).err.code == errc::malformed_json);
  CHECK(run("[] x", media_type::single).err.code == errc::malformed_json);
}

TEST_CASE("cloudevents-batch+json accepts an empty array") {  // C8
  for (std::string body : {"[]", " [ \n ] "}) {
    auto r = run(body, media_type::batch);
    CHECK(r.ok);
    CHECK(r.events.empty());
  }
}

TEST_CASE("application/json accepts one object or an array") {  // T3, T4
  auto one = run(E().str(), media_type::json);
  CHECK(one.ok);
  CHECK(one.events.size() == 1);
  auto two = run(array_of({E().str(), E().set("id", "\"evt-2\"").str()}), media_type::json);
  CHECK(two.ok);
  CHECK(two.events.size() == 2);
}

TEST_CASE("application/json rejects an empty array with OpenMeter's wording") {  // C9
  auto r = run("[]", media_type::json);
  CHECK_FALSE(r.ok);
  CHECK(r.err.code == errc::wrong_shape);
  CHECK(r.err.detail == "invalid event: no events found");
}

TEST_CASE("application/json rejects null and scalars") {
  for (std::string body : {"null", "12", "\"x\"", "false"}) {
    CAPTURE(body);
    auto r = run(body, media_type::json);
    CHECK(r.err.code == errc::wrong_shape);
  }
}

TEST_CASE("a batch is rejected whole when one event is invalid") {  // S19, S20
  std::string body = array_of({E().str(), E().drop("subject").str()});
  for (auto type : {media_type::batch, media_type::json}) {
    auto r = run(body, type);
    CHECK_FALSE(r.ok);
    CHECK(r.events.empty());
    CHECK(r.err.code == errc::invalid_event);
    CHECK(r.err.index == 1);
    CHECK(r.err.detail == "invalid event at index 1: subject is missing");
  }
}

TEST_CASE("a batch element that is not an object is an invalid event") {
  auto r = run(array_of({E().str(), E().str(), "42"}), media_type::batch);
  CHECK(r.err.code == errc::invalid_event);
  CHECK(r.err.index == 2);
  CHECK(r.err.detail == "invalid event at index 2: event must be a JSON object");
}

TEST_CASE("validator keeps request order for a batch of 10 and of 1000") {  // T16, T5
  for (int n : {10, 1000}) {
    std::vector<std::string> items;
    for (int i = 0; i < n; ++i) items.push_back(numbered(i));
    auto r = run(array_of(items, ",\n  "), media_type::batch);
    REQUIRE(r.ok);
    REQUIRE(r.events.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) CHECK(test::slice(r, r.events[i]) == items[i]);
  }
}

TEST_CASE("validator rejects more than max_events with too_many_events") {
  options opts;
  opts.max_events = 3;
  std::vector<std::string> items = {numbered(0), numbered(1), numbered(2)};
  auto at_limit = run(array_of(items), media_type::batch, api::v1, opts);
  CHECK(at_limit.ok);
  items.push_back(numbered(3));
  auto over = run(array_of(items), media_type::batch, api::v1, opts);
  CHECK_FALSE(over.ok);
  CHECK(over.err.code == errc::too_many_events);
  CHECK(over.err.detail.find('3') != std::string::npos);
  CHECK(over.events.empty());
}

TEST_CASE("byte ranges hold with white space, nesting and braces inside strings") {
  std::string a = R"({ "id" : "}{][" , "source":"s", "specversion":"1.0", "type":"t{", "subject":"x\"}",
      "data" : { "nested" : { "deep" : [ { "k" : "}" } , [ ] , { } ] } , "s" : "\\" } })";
  std::string b = R"({"id":"2","source":"s","specversion":"1.0","type":"t","subject":"x","data":{}})";
  std::string body = "\n[\n\t" + a + "  \r\n ,\n" + b + "\n\t]\n";
  auto r = run(body, media_type::batch);
  REQUIRE(r.ok);
  REQUIRE(r.events.size() == 2);
  CHECK(test::slice(r, r.events[0]) == a);
  CHECK(test::slice(r, r.events[1]) == b);
  CHECK(r.events[0].at == r.events[0].begin + 1);
}

TEST_CASE("one validator can be reused across requests") {
  validator v;
  std::vector<event_ref> events;
  error err;
  std::string good = E().str() + std::string(64, ' ');
  std::string bad = E().drop("id").str() + std::string(64, ' ');
  std::string_view gv(good.data(), good.size() - 64), bv(bad.data(), bad.size() - 64);
  for (int i = 0; i < 3; ++i) {
    CHECK(v.validate(gv, media_type::single, api::v1, events, err));
    CHECK(err.code == errc::none);
    CHECK(events.size() == 1);
    CHECK_FALSE(v.validate(bv, media_type::single, api::v1, events, err));
    CHECK(err.detail == "invalid event: id is missing");
    CHECK(events.empty());
  }
}

TEST_CASE("validator refuses data nested deeper than its bound") {
  std::string deep = std::string(300, '[') + std::string(300, ']');
  auto r = run(E().set("data", "{\"a\":" + deep + "}").str());
  CHECK_FALSE(r.ok);
  CHECK(r.err.code == errc::malformed_json);
  std::string ok = std::string(100, '[') + std::string(100, ']');
  CHECK(run(E().set("data", "{\"a\":" + ok + "}").str()).ok);
}

// Found by tests/fuzz/mapping_fuzz.cpp: simdjson skips a string it was not
// asked to read as if it were a key when a ':' follows, and does not match
// bracket kinds while skipping, so these passed as JSON and would have been
// forwarded upstream as they are.
TEST_CASE("validator rejects a string followed by a colon where a value belongs") {
  const std::string head = R"({"specversion":"1.0","source":"s","type":"t","subject":"u")";
  for (std::string body : {head + R"(,"id":"a":"zzz"}})", head + R"(,"id":"a","data":{"k":["id":"x"}]}})",
                           head + R"(,"id":"a","x":"y":"z"}})", head + R"(,"id":"a","data":{"k":["a","b":"c"}]}})",
                           head + R"(,"time":"2023-01-01T00:00:00Z":1,"id":"a"}})"}) {
    CAPTURE(body);
    auto r = run(body, media_type::json);
    CHECK_FALSE(r.ok);
    CHECK(r.err.code == errc::malformed_json);
    auto b = run("[" + body + "]", media_type::batch);
    CHECK_FALSE(b.ok);
    CHECK(b.err.code == errc::malformed_json);
  }
  // The same strings in their proper places pass.
  CHECK(run(head + R"(,"id":"a","data":{"k":["id","x"]}})", media_type::json).ok);
}
