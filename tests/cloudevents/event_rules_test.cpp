// SPDX-License-Identifier: Apache-2.0
// Per-event rules: INGEST_API.md §8 T/S/C vectors, the time and source checks,
// extension attributes on v1 and v3, duplicates and escaped keys.
#include <doctest/doctest.h>

#include "test_util.hpp"

using namespace tg::cloudevents;
using test::E;
using test::rejection;
using test::run;

namespace {
constexpr const char* accepted = "accepted";
const char* required_attrs[] = {"id", "source", "specversion", "type", "subject"};

std::string with_time(const std::string& t) { return rejection(E().set("time", "\"" + t + "\"").str()); }
std::string with_source(const std::string& s) { return rejection(E().set("source", "\"" + s + "\"").str()); }
}  // namespace

TEST_CASE("validator accepts E and OpenMeter's accepted vectors") {
  CHECK(rejection(E().str()) == accepted);
  // T1: Go-SDK event with datacontenttype.
  CHECK(rejection(R"({"specversion":"1.0","id":"5c10fade-1c9e-4d6c-8275-c52c36731d3c","source":"my-app",)"
                  R"("type":"ingest","subject":"customer-1","time":"2023-06-15T14:33:00.123456789Z",)"
                  R"("datacontenttype":"application/json","data":{"duration_ms":"42"}})") == accepted);
  // T2: no time, no data.
  CHECK(rejection(R"({"specversion":"1.0","id":"test-1","source":"source","type":"type","subject":"subject"})") ==
        accepted);
  CHECK(rejection(E().set("data", "null").str()) == accepted);                          // T8
  CHECK(rejection(E().drop("data").str()) == accepted);                                 // T9
  CHECK(rejection(E().set("data", "{}").str()) == accepted);                            // T10
  CHECK(rejection(E().set("data", R"({"duration_ms":"NaN"})").str()) == accepted);      // T11
  CHECK(rejection(E().set("datacontenttype", "\"application/json\"").str()) == accepted);  // S14
  CHECK(rejection(E().set("datacontenttype", "null").str()) == accepted);
  CHECK(rejection(E().set("specversion", "\"0.3\"").str()) == accepted);                // C11
  CHECK(rejection(E().set("region", "\"eu\"").str()) == accepted);                      // C12
}

TEST_CASE("validator rejects an event without a required attribute") {  // S1-S5
  for (const char* attr : required_attrs) {
    CAPTURE(attr);
    auto r = run(E().drop(attr).str());
    CHECK_FALSE(r.ok);
    CHECK(r.err.code == errc::invalid_event);
    CHECK(r.err.index == 0);
    CHECK(r.err.detail == std::string("invalid event: ") + attr + " is missing");
  }
}

TEST_CASE("validator rejects an empty required attribute") {  // S6, T15
  for (const char* attr : required_attrs) {
    CAPTURE(attr);
    CHECK(rejection(E().set(attr, "\"\"").str()) == std::string("invalid event: ") + attr + " must not be empty");
  }
}

TEST_CASE("validator rejects a null required attribute") {  // S7
  CHECK(rejection(E().set("subject", "null").str()) == "invalid event: subject must not be null");
  CHECK(rejection(E().set("id", "null").str()) == "invalid event: id must not be null");
}

TEST_CASE("validator rejects a required attribute that is not a string") {  // S8
  CHECK(rejection(E().set("id", "123").str()) == "invalid event: id must be a string");
  CHECK(rejection(E().set("type", "{\"a\":1}").str()) == "invalid event: type must be a string");
  CHECK(rejection(E().set("subject", "[\"x\"]").str()) == "invalid event: subject must be a string");
  CHECK(rejection(E().set("source", "true").str()) == "invalid event: source must be a string");
}

TEST_CASE("validator reports required attributes in a fixed order whatever the key order") {
  std::string a = R"({"subject":null,"type":"","id":5,"specversion":"2.0","source":"s"})";
  CHECK(rejection(a) == "invalid event: id must be a string");
  std::string b = R"({"subject":null,"type":"","specversion":"2.0","source":":x","id":"1"})";
  CHECK(rejection(b) == R"(invalid event: source must be a valid URI reference, got ":x")");
  std::string c = R"({"subject":null,"type":"","source":"s","id":"1","specversion":"1.0"})";
  CHECK(rejection(c) == "invalid event: type must not be empty");
  // Required problems come before the others, whatever the order they were met.
  CHECK(rejection(E().set("data", "1").drop("subject").str()) == "invalid event: subject is missing");
}

TEST_CASE("validator rejects an unknown specversion") {  // C10
  CHECK(rejection(E().set("specversion", "\"2.0\"").str()) ==
        R"(invalid event: specversion must be 1.0 or 0.3, got "2.0")");
  CHECK(rejection(E().set("specversion", "\"1\"").str()) != accepted);
  CHECK(rejection(E().set("specversion", "1.0").str()) == "invalid event: specversion must be a string");
}

TEST_CASE("validator checks time as RFC 3339") {
  CHECK(with_time("2023-01-01T00:00:00Z") == accepted);
  CHECK(with_time("2023-01-01T01:01:01.001+02:00") == accepted);  // S12
  CHECK(with_time("2023-01-01T01:01:01-05:30") == accepted);
  CHECK(with_time("2023-06-15T14:33:00.123456789123Z") == accepted);
  CHECK(with_time("0000-01-01T00:00:00Z") == accepted);
  CHECK(with_time("2023-12-31T23:59:59+23:59") == accepted);
  const char* bad[] = {
      "2023-01-01T00:00:00",        // S9: no offset
      "2023-01-01",                 // S10
      "2023-01-01 00:00:00Z",       // S10
      "2023-01-01t00:00:00z",       // S10: lowercase
      "2023-01-01T00:00:00z",
      "2023-01-01T00:00:00.Z",
      "2023-01-01T00:00:00.1",
      "2023-1-01T00:00:00Z",
      "2023-01-01T00:00:00+0100",
      "2023-01-01T00:00:00+01",
      "2023-01-01T00:00:00+24:00",
      "2023-01-01T00:00:00+01:60",
      "2023-01-01T24:00:00Z",
      "2023-01-01T00:60:00Z",
      "2023-01-01T23:59:60Z",  // a leap second: Go's time.Parse refuses it
      "2023-13-01T00:00:00Z",
      "2023-00-01T00:00:00Z",
      "2023-01-00T00:00:00Z",
      "2023-01-32T00:00:00Z",
      "2023-01-01T00:00:00Z ",
      " 2023-01-01T00:00:00Z",
      "",
  };
  for (const char* t : bad) {
    CAPTURE(t);
    CHECK(with_time(t).starts_with("invalid event: time must be an RFC 3339 date-time"));
  }
}

// Guards the word-at-a-time check in rfc3339.cpp: every byte of the fixed
// part, replaced by a neighbour of '0'-'9' or by another separator, is refused.
TEST_CASE("validator refuses a wrong byte anywhere in the fixed part of time") {
  const std::string good = "2023-01-01T00:00:00Z";
  for (std::size_t i = 0; i < 19; ++i) {
    for (char c : {'/', ':', '*', ',', '.', '-', 'T', 'a', '~'}) {
      if (c == good[i]) continue;
      std::string t = good;
      t[i] = c;
      CAPTURE(t);
      CHECK(with_time(t).starts_with("invalid event: time must be an RFC 3339 date-time"));
    }
  }
}

TEST_CASE("validator refuses dates that are not on the calendar") {
  CHECK(with_time("2024-02-29T00:00:00Z") == accepted);
  CHECK(with_time("2000-02-29T00:00:00Z") == accepted);
  CHECK(with_time("2023-02-29T00:00:00Z") != accepted);
  CHECK(with_time("1900-02-29T00:00:00Z") != accepted);
  CHECK(with_time("2024-02-30T00:00:00Z") != accepted);
  CHECK(with_time("2023-04-31T00:00:00Z") != accepted);
  CHECK(with_time("2023-06-31T00:00:00Z") != accepted);
  CHECK(with_time("2023-09-31T00:00:00Z") != accepted);
  CHECK(with_time("2023-11-31T00:00:00Z") != accepted);
  CHECK(with_time("2023-12-31T00:00:00Z") == accepted);
}

TEST_CASE("validator rejects a time that is not a string") {  // S11
  CHECK(rejection(E().set("time", "1672531200").str()) == "invalid event: time must be a string");
  CHECK(rejection(E().set("time", "{}").str()) == "invalid event: time must be a string");
}

TEST_CASE("validator marks where time must be stamped") {  // S13
  auto absent = run(E().drop("time").str());
  REQUIRE(absent.ok);
  CHECK(absent.events[0].fix == time_fix::insert);
  CHECK(absent.events[0].at == 1);
  std::string body = R"(  {"id":"1","source":"s","specversion":"1.0","type":"t","subject":"x","time" : null })";
  auto null = run(body);
  REQUIRE(null.ok);
  CHECK(null.events[0].fix == time_fix::replace_null);
  CHECK(null.events[0].at == body.find("null"));
  auto present = run(E().str());
  REQUIRE(present.ok);
  CHECK(present.events[0].fix == time_fix::none);
}

TEST_CASE("validator checks data") {  // T6, T7, S16
  for (std::string data : {"\"string\"", "[1,2]", "42", "true"}) {
    CAPTURE(data);
    CHECK(rejection(E().set("data", data).str()) == "invalid event: data must be a JSON object or null");
  }
  CHECK(rejection(E().set("datacontenttype", "\"application/xml\"").set("data", "\"<xml></xml>\"").str()) != accepted);
}

TEST_CASE("validator accepts only application/json as datacontenttype") {  // S15
  CHECK(rejection(E().set("datacontenttype", "\"text/plain\"").str()) ==
        R"(invalid event: datacontenttype must be "application/json" or null, got "text/plain")");
  CHECK(rejection(E().set("datacontenttype", "\"application/json; charset=utf-8\"").str()) != accepted);
  CHECK(rejection(E().set("datacontenttype", "\"\"").str()) != accepted);
  CHECK(rejection(E().set("datacontenttype", "5").str()) != accepted);
}

TEST_CASE("validator checks dataschema") {
  CHECK(rejection(E().set("dataschema", "\"https://example.com/schema\"").str()) == accepted);
  CHECK(rejection(E().set("dataschema", "null").str()) == accepted);
  CHECK(rejection(E().set("dataschema", "\"\"").str()) == "invalid event: dataschema must not be empty");
  CHECK(rejection(E().set("dataschema", "1").str()) == "invalid event: dataschema must be a string or null");
}

TEST_CASE("validator rejects data_base64 whatever its value") {
  for (std::string v : {"\"Zm9vYg==\"", "null", "1"}) {
    CAPTURE(v);
    CHECK(rejection(E().drop("data").set("data_base64", v).str()) ==
          "invalid event: data_base64 is not supported; send data as a JSON object");
  }
}

TEST_CASE("validator checks source as a URI reference") {  // C15
  for (const char* s : {"api-gateway", "my-app", "https://github.com/cloudevents", "mailto:x@y",
                        "mailto:cncf-wg-serverless@lists.cncf.io", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
                        "/sensors/tn-1/alerts", "1-555-123-4567", "@openmeter/sdk", "cloudevents/spec/pull/123",
                        "svc", "http://[::1]:8080/x", "http://user@host:80/p?q=a:b#f", "a/b:c", "x?y:z",
                        "caf\xc3\xa9", "%41", "."}) {
    CAPTURE(s);
    CHECK(with_source(s) == accepted);
  }
  for (const char* s : {":bad", "%zz", "%4", "a%", "has space", "tab\\there", "1-555:x", "a_b:c", "http://[::1/x",
                        "http://host:port/", "http://a]b/"}) {
    CAPTURE(s);
    CHECK(with_source(s).starts_with("invalid event: source must be a valid URI reference"));
  }
  CHECK(with_source(":bad") == R"(invalid event: source must be a valid URI reference, got ":bad")");
}

TEST_CASE("v1 accepts extension attributes with alphanumeric names and simple values") {  // C12
  for (std::string v : {"\"eu\"", "true", "false", "null", "0", "-2147483648", "2147483647", "1.0", "1e3"}) {
    CAPTURE(v);
    CHECK(rejection(E().set("region", v).str()) == accepted);
  }
  CHECK(rejection(E().set("Region2", "\"x\"").str()) == accepted);
}

TEST_CASE("v1 rejects an extension attribute name with other characters") {  // C13
  CHECK(rejection(E().set("trace_id", "\"x\"").str()) ==
        R"(invalid event: attribute name "trace_id" must consist of letters a-z, A-Z and digits 0-9 only)");
  CHECK(rejection(E().set("", "\"x\"").str()) != accepted);
  CHECK(rejection(E().set("tr\\u00e9", "\"x\"").str()) != accepted);
}

TEST_CASE("v1 rejects extension values sdk-go cannot hold") {  // C14
  CHECK(rejection(E().set("myext", R"({"a":1})").str()) ==
        R"(invalid event: attribute "myext" must be a string, a boolean, an integer or null)");
  CHECK(rejection(E().set("myext", "[1]").str()) != accepted);
  for (std::string v : {"1.5", "2147483648", "-2147483649", "1e10"}) {
    CAPTURE(v);
    CHECK(rejection(E().set("myext", v).str()) ==
          R"(invalid event: attribute "myext" must be an integer within int32 range)");
  }
}

TEST_CASE("v3 rejects every extension attribute") {  // S22, S23
  CHECK(rejection(E().str(), api::v3) == accepted);
  CHECK(rejection(E().set("myext", "\"x\"").str(), api::v3) == R"(invalid event: property "myext" is unsupported)");
  CHECK(rejection(E().set("region", "null").str(), api::v3) != accepted);
  auto batch = run("[" + E().str() + "," + E().set("myext", "1").str() + "]", media_type::json, api::v3);
  CHECK(batch.err.detail == R"(invalid event at index 1: property "myext" is unsupported)");
}

TEST_CASE("validator rejects a duplicate attribute") {
  // Each attribute repeated with a value that is valid on its own.
  const std::pair<const char*, const char*> dups[] = {
      {"id", "\"x\""}, {"time", "\"2023-01-01T00:00:00Z\""}, {"specversion", "\"1.0\""},
      {"subject", "\"x\""}, {"data", "{}"}, {"source", "\"s\""},
  };
  for (auto [attr, value] : dups) {
    CAPTURE(attr);
    std::string body = "{\"" + std::string(attr) + "\":" + value + "," + E().str().substr(1);
    CHECK(rejection(body) == std::string("invalid event: duplicate attribute \"") + attr + "\"");
  }
  std::string twice_null = R"({"time":null,"time":null,"id":"1","source":"s","specversion":"1.0","type":"t","subject":"x"})";
  CHECK(rejection(twice_null) == R"(invalid event: duplicate attribute "time")");
}

TEST_CASE("validator unescapes keys and values before checking them") {
  // "\u0069d" is "id": the event has its id, once.
  std::string escaped_id = R"({"\u0069d":"1","source":"s","specversion":"1.0","type":"t","subject":"x"})";
  CHECK(rejection(escaped_id) == accepted);
  CHECK(rejection(R"({"\u0069d":"1","id":"2","source":"s","specversion":"1.0","type":"t","subject":"x"})") ==
        R"(invalid event: duplicate attribute "id")");
  CHECK(rejection(E().set("specversion", R"("1\u002e0")").str()) == accepted);
  CHECK(rejection(E().set("source", R"("my\u002dapp")").str()) == accepted);
  CHECK(rejection(E().set("source", R"("a\u0020b")").str()) != accepted);
  CHECK(rejection(E().set("time", R"("2023-01-01T00:00:00\u005a")").str()) == accepted);
  CHECK(rejection(E().set("subject", R"("\n")").str()) == accepted);
}

TEST_CASE("errors in a batch name the event index") {
  std::string body = "[" + E().str() + "," + E().str() + "," + E().str() + "," + E().drop("subject").str() + "]";
  auto r = run(body, media_type::batch);
  CHECK(r.err.code == errc::invalid_event);
  CHECK(r.err.index == 3);
  CHECK(r.err.detail == "invalid event at index 3: subject is missing");
}
