// SPDX-License-Identifier: Apache-2.0
// OpenMeter's Kafka message, checked against the rules of its collector and
// serializer: key <namespace>-<source>-<id>, timestamp = the event's time,
// value {id,type,source,subject,time (Unix seconds),data (compact JSON text
// in a string, "" when absent or null)}, strings escaped as Go's encoder does.
#include <doctest/doctest.h>

#include <string>

#include "tollgate/output/kafka/message.hpp"

using namespace tg::kafka;

namespace {

std::string event(const std::string& time, const std::string& data_member = R"(,"data":{"duration_ms":12})",
                  const std::string& id = R"("e1")") {
  return R"({"specversion":"1.0","id":)" + id + R"(,"source":"svc","type":"api-calls","subject":"customer-1","time":")" +
         time + "\"" + data_member + "}";
}

struct encoded {
  std::string key, value, spec;
  std::int64_t ts = 0;
};

encoded encode_ok(const std::string& json, const std::string& ns = "default") {
  encoder enc;
  auto r = enc.encode(json, ns);
  REQUIRE(r.has_value());
  return {std::string(r->key), std::string(r->value), std::string(r->specversion), r->timestamp_ms};
}

std::string value_with_data(const std::string& data_escaped, const std::string& time = "1700000000") {
  return R"({"id":"e1","type":"api-calls","source":"svc","subject":"customer-1","time":)" + time + R"(,"data":")" +
         data_escaped + "\"}";
}

timespec at(std::time_t s, long ns) {
  timespec t{};
  t.tv_sec = s;
  t.tv_nsec = ns;
  return t;
}

std::string nano(std::time_t s, long ns) {
  char buf[rfc3339_nano_max];
  return {buf, format_rfc3339_nano(at(s, ns), buf)};
}

}  // namespace

TEST_CASE("the format document's example encodes byte for byte") {
  const auto m = encode_ok(event("2023-11-14T22:13:20Z"));
  CHECK(m.key == "default-svc-e1");
  CHECK(m.value == R"({"id":"e1","type":"api-calls","source":"svc","subject":"customer-1","time":1700000000,"data":"{\"duration_ms\":12}"})");
  CHECK(m.spec == "1.0");
  CHECK(m.ts == 1700000000000);
}

TEST_CASE("the key is namespace, source and id joined by dashes, with the strings decoded") {
  CHECK(encode_ok(event("2023-11-14T22:13:20Z"), "acme").key == "acme-svc-e1");
  const auto m = encode_ok(event("2023-11-14T22:13:20Z", "", R"("a\"b\u0041-\/")"));
  CHECK(m.key == "default-svc-a\"bA-/");
  CHECK(m.value.find(R"("id":"a\"bA-/")") != std::string::npos);
}

TEST_CASE("time becomes Unix seconds with the offset applied and the fraction dropped; the timestamp keeps milliseconds") {
  SUBCASE("positive offset") {
    const auto m = encode_ok(event("2023-11-15T00:13:20.999+02:00"));
    CHECK(m.value == value_with_data(R"({\"duration_ms\":12})"));
    CHECK(m.ts == 1700000000999);
  }
  SUBCASE("negative offset with minutes") {
    const auto m = encode_ok(event("2023-11-14T16:43:20.5-05:30"));
    CHECK(m.value == value_with_data(R"({\"duration_ms\":12})"));
    CHECK(m.ts == 1700000000500);
  }
  SUBCASE("nanoseconds and more digits than a nanosecond") {
    const auto m = encode_ok(event("2023-11-14T22:13:20.123456789123Z"));
    CHECK(m.ts == 1700000000123);
    CHECK(m.value == value_with_data(R"({\"duration_ms\":12})"));
  }
  SUBCASE("lowercase t and z") {
    CHECK(encode_ok(event("2023-11-14t22:13:20z")).ts == 1700000000000);
  }
}

TEST_CASE("data absent or null is the empty string") {
  CHECK(encode_ok(event("2023-11-14T22:13:20Z", "")).value == value_with_data(""));
  CHECK(encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":null)")).value == value_with_data(""));
  CHECK(encode_ok(event("2023-11-14T22:13:20Z", R"(,"data" : null )")).value == value_with_data(""));
}

TEST_CASE("data is compacted, with strings, escapes and numbers exactly as written") {
  SUBCASE("white space between tokens goes, inside strings it stays") {
    const auto m = encode_ok(event("2023-11-14T22:13:20Z", ",\"data\" :\n {\n  \"a b\" : [ 1 ,\t2 ],\r\n  \"c\": \" x  y \"\n}\n"));
    CHECK(m.value == value_with_data(R"({\"a b\":[1,2],\"c\":\" x  y \"})"));
  }
  SUBCASE("numbers keep every digit and their spelling") {
    const auto m = encode_ok(event("2023-11-14T22:13:20Z",
                                   R"(,"data":{"big":12345678901234567890123,"f":1.50,"e":1E+3,"neg":-0.0,"small":2e-308})"));
    CHECK(m.value == value_with_data(R"({\"big\":12345678901234567890123,\"f\":1.50,\"e\":1E+3,\"neg\":-0.0,\"small\":2e-308})"));
  }
  SUBCASE("member order is kept") {
    const auto m = encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":{"z":1,"a":2,"m":{"y":true,"b":false}})"));
    CHECK(m.value == value_with_data(R"({\"z\":1,\"a\":2,\"m\":{\"y\":true,\"b\":false}})"));
  }
  SUBCASE("escapes in data are kept and escaped once more for the outer string") {
    const auto m = encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":{"q":"say \"hi\"","bs":"c:\\dir","u":"\u00e9\n\t","sl":"a\/b"})"));
    CHECK(m.value == value_with_data(R"({\"q\":\"say \\\"hi\\\"\",\"bs\":\"c:\\\\dir\",\"u\":\"\\u00e9\\n\\t\",\"sl\":\"a\\/b\"})"));
  }
  SUBCASE("raw UTF-8 passes through; < > & and U+2028/9 are escaped as Go escapes them") {
    const auto m = encode_ok(event("2023-11-14T22:13:20Z",
                                   ",\"data\":{\"name\":\"caf\xC3\xA9 \xE2\x98\x95\",\"html\":\"<b>&\",\"ls\":\"a\xE2\x80\xA8z\xE2\x80\xA9\"}"));
    CHECK(m.value == value_with_data("{\\\"name\\\":\\\"caf\xC3\xA9 \xE2\x98\x95\\\",\\\"html\\\":\\\"\\u003cb\\u003e\\u0026\\\","
                                     "\\\"ls\\\":\\\"a\\u2028z\\u2029\\\"}"));
  }
  SUBCASE("data that is not an object") {
    CHECK(encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":[1, "two", {"three":3}])")).value ==
          value_with_data(R"([1,\"two\",{\"three\":3}])"));
    CHECK(encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":"text")")).value == value_with_data(R"(\"text\")"));
    CHECK(encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":42.0)")).value == value_with_data("42.0"));
    CHECK(encode_ok(event("2023-11-14T22:13:20Z", R"(,"data":true)")).value == value_with_data("true"));
  }
}

TEST_CASE("the other members are escaped as Go escapes them and extra attributes are left out") {
  const std::string json =
      "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"svc\",\"type\":\"api-calls\",\"subject\":\"a<b>&c\\u0001\xE2\x80\xA8\","
      "\"time\":\"2023-11-14T22:13:20Z\",\"datacontenttype\":\"application/json\",\"ext\":{\"x\":1}}";
  const auto m = encode_ok(json);
  CHECK(m.value == R"({"id":"e1","type":"api-calls","source":"svc","subject":"a\u003cb\u003e\u0026c\u0001\u2028","time":1700000000,"data":""})");
}

TEST_CASE("events the encoder cannot map are refused with a reason") {
  encoder enc;
  CHECK(enc.encode("[1,2]", "default").error() == encode_error::not_an_object);
  CHECK(enc.encode(R"({"specversion":"1.0","id":"e1","source":"svc","type":"t","time":"2023-11-14T22:13:20Z"})", "default")
            .error() == encode_error::missing_member);
  CHECK(enc.encode(R"({"specversion":"1.0","id":7,"source":"svc","type":"t","subject":"s","time":"2023-11-14T22:13:20Z"})",
                   "default")
            .error() == encode_error::missing_member);
  CHECK(enc.encode(event("2023-11-14 22:13:20Z"), "default").error() == encode_error::bad_time);
  CHECK(enc.encode(event("2023-11-14T22:13:20"), "default").error() == encode_error::bad_time);
  CHECK_FALSE(describe(encode_error::bad_time).empty());
  // The encoder is reusable after a refusal.
  auto ok = enc.encode(event("2023-11-14T22:13:20Z"), "default");
  REQUIRE(ok.has_value());
  CHECK(ok->key == "default-svc-e1");
}

TEST_CASE("event times parse across dates, leap days and before 1970") {
  event_time t;
  REQUIRE(parse_event_time("1970-01-01T00:00:00Z", t));
  CHECK(t.seconds == 0);
  REQUIRE(parse_event_time("2024-02-29T12:00:00Z", t));
  CHECK(t.seconds == 1709208000);
  REQUIRE(parse_event_time("1969-12-31T23:59:59.5Z", t));
  CHECK(t.seconds == -1);
  CHECK(t.nanos == 500000000);
  CHECK(t.millis() == -500);
  REQUIRE(parse_event_time("2000-01-01T00:00:00+14:00", t));
  CHECK(t.seconds == 946684800 - 14 * 3600);
  CHECK_FALSE(parse_event_time("2023-13-01T00:00:00Z", t));
  CHECK_FALSE(parse_event_time("2023-01-01T00:00:00.Z", t));
  CHECK_FALSE(parse_event_time("2023-01-01T00:00:00+0100", t));
  CHECK_FALSE(parse_event_time("2023-01-01T00:00:00Zjunk", t));
}

TEST_CASE("ingested_at is Go's RFC3339Nano in UTC: trailing zeros of the fraction dropped") {
  CHECK(nano(1700000000, 0) == "2023-11-14T22:13:20Z");
  CHECK(nano(1700000000, 123456789) == "2023-11-14T22:13:20.123456789Z");
  CHECK(nano(1700000000, 120000000) == "2023-11-14T22:13:20.12Z");
  CHECK(nano(1700000000, 5) == "2023-11-14T22:13:20.000000005Z");
  CHECK(nano(951782400, 0) == "2000-02-29T00:00:00Z");
  CHECK(nano(0, 1000) == "1970-01-01T00:00:00.000001Z");
}

TEST_CASE("escaped member names and strings decode as Go decodes them: surrogate pairs joined, lone ones replaced") {
  const std::string json =
      R"({"specversion":"1.0","\u0069d":"x\ud83d\ude00y","source":"s\u00e9","type":"t\ud800","subject":"\b\f\u001f",)"
      R"("time":"2023-11-14T22:13:20Z"})";
  const auto m = encode_ok(json);
  CHECK(m.key == "default-s\xC3\xA9-x\xF0\x9F\x98\x80y");
  CHECK(m.value == "{\"id\":\"x\xF0\x9F\x98\x80y\",\"type\":\"t\xEF\xBF\xBD\",\"source\":\"s\xC3\xA9\","
                   "\"subject\":\"\\u0008\\u000c\\u001f\",\"time\":1700000000,\"data\":\"\"}");
}

TEST_CASE("white space around members and values is allowed anywhere the validator allows it") {
  const std::string json = " {\n \"specversion\" : \"1.0\" ,\t\"id\":\"e1\",\"source\":\"svc\",\"type\":\"api-calls\","
                           "\"subject\":\"customer-1\",\"time\" :\"2023-11-14T22:13:20Z\" , \"data\" : 7 \r\n} ";
  CHECK(encode_ok(json).value == value_with_data("7"));
}

TEST_CASE("an escape or a closing quote at any offset of a long string is found, in members and inside data") {
  // The scanner looks at sixteen bytes at a time while sixteen are left, then
  // byte by byte: every offset, on both sides of that edge and across it.
  encoder enc;
  for (std::size_t n = 0; n <= 40; ++n) {
    for (std::size_t pos = 0; pos <= n; ++pos) {
      const std::string left(pos, 'a'), right(n - pos, 'b');
      // A subject holding an escaped quote at `pos`, and data holding a
      // string with an escaped backslash at `pos`.
      const std::string json = R"({"specversion":"1.0","id":"e1","source":"svc","type":"t","subject":")" + left +
                               R"(\")" + right + R"(","time":"2023-11-14T22:13:20Z","data":{"k":")" + left +
                               R"(\\)" + right + R"(","n":1}})";
      auto r = enc.encode(json, "default");
      REQUIRE_MESSAGE(r.has_value(), "n=" << n << " pos=" << pos);
      const std::string expect = R"({"id":"e1","type":"t","source":"svc","subject":")" + left + R"(\")" + right +
                                 R"(","time":1700000000,"data":"{\"k\":\")" + left + R"(\\\\)" + right +
                                 R"(\",\"n\":1}"})";
      CHECK_MESSAGE(std::string(r->value) == expect, "n=" << n << " pos=" << pos);
    }
    // And a plain string of that length, ending where the scan switches.
    const std::string plain(n, 'c');
    auto r = enc.encode(event("2023-11-14T22:13:20Z", "", "\"" + plain + "\""), "default");
    REQUIRE(r.has_value());
    CHECK(std::string(r->key) == "default-svc-" + plain);
  }
}
