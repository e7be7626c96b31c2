// SPDX-License-Identifier: Apache-2.0
// Templates and pointers: literal text and placeholders, RFC 6901 escapes and
// array indices, which JSON types survive where, members left out, braces,
// and escaping of whatever lands in a JSON string.
#include "test_util.hpp"

using namespace tg::mapping;
using test::compile;
using test::event_with;
using test::mapped_one;
using test::one_route;

namespace {
const std::string spec = R"({"specversion":"1.0",)";
}

TEST_CASE("a mapped event has specversion 1.0 and the attributes in a fixed order") {
  auto t = compile(one_route(R"({"id":"{/id}","type":"calls","source":"svc-{/region}","subject":"{/user}"})"));
  CHECK(mapped_one(t, R"({"id":"a1","region":"eu","user":"bob"})") ==
        spec + R"("id":"a1","source":"svc-eu","type":"calls","subject":"bob"})");
}

TEST_CASE("placeholders and literal text mix in one template, in order") {
  auto t = compile(one_route(R"({"id":"{/a}-{/b}:{/a}","type":"x.{/b}.y","source":"s","subject":"{/b}{/a}"})"));
  CHECK(mapped_one(t, R"({"a":"1","b":"two"})") ==
        spec + R"("id":"1-two:1","source":"s","type":"x.two.y","subject":"two1"})");
}

TEST_CASE("pointers decode ~1 as a slash and ~0 as a tilde") {
  auto t = compile(one_route(R"({"id":"{/a~1b}","type":"{/m~0n}","source":"{/~01}","subject":"{/x~1~0y}"})"));
  CHECK(mapped_one(t, R"({"a/b":"slash","m~n":"tilde","~1":"literal","x/~y":"both","a~1b":"wrong"})") ==
        spec + R"("id":"slash","source":"literal","type":"tilde","subject":"both"})");
}

TEST_CASE("pointers index arrays by position, and only by canonical indices") {
  auto t = compile(one_route(event_with(
      R"("data":{"first":"{/xs/0}","third":"{/xs/2/v}","lead":"{/xs/01}","dash":"{/xs/-}","past":"{/xs/9}","key":"{/o/0}"})")));
  CHECK(mapped_one(t, R"({"xs":[10,{"v":1},{"v":"three"}],"o":{"0":"zero-key"}})") ==
        spec + R"("id":"i","source":"s","type":"t","subject":"u","data":{"first":10,"third":"three","key":"zero-key"}})");
}

TEST_CASE("pointers reach nested members and the empty key") {
  auto t = compile(one_route(event_with(R"("data":{"deep":"{/a/b/c}","empty":"{/}","emptier":"{/e/}"})")));
  CHECK(mapped_one(t, R"({"a":{"b":{"c":[1,2]}},"":"root-empty","e":{"":5}})") ==
        spec + R"("id":"i","source":"s","type":"t","subject":"u","data":{"deep":[1,2],"empty":"root-empty","emptier":5}})");
}

TEST_CASE("a single placeholder in data keeps the JSON type, bytes as sent") {
  auto t = compile(one_route(event_with(
      R"("data":{"n":"{/n}","f":"{/f}","s":"{/s}","b":"{/b}","z":"{/z}","o":"{/o}","a":"{/a}"})")));
  CHECK(mapped_one(t, R"({"n":42,"f":1.50e+3,"s":"x\"y","b":false,"z":null,"o":{"k" : [1, 2]},"a":[ ]})") ==
        spec +
            R"("id":"i","source":"s","type":"t","subject":"u","data":{"n":42,"f":1.50e+3,"s":"x\"y","b":false,"z":null,"o":{"k" : [1, 2]},"a":[ ]}})");
}

TEST_CASE("attributes are strings: a number or boolean becomes its JSON text") {
  auto t = compile(one_route(R"({"id":"{/n}","type":"{/b}","source":"s{/f}","subject":"{/neg}"})"));
  CHECK(mapped_one(t, R"({"n":42,"b":true,"f":1.5e2,"neg":-7})") ==
        spec + R"("id":"42","source":"s1.5e2","type":"true","subject":"-7"})");
}

TEST_CASE("text with an object or array in it gets the value's JSON text, escaped") {
  auto t = compile(one_route(event_with(R"("data":{"t":"got {/o}","u":"{/a} items"})")));
  CHECK(mapped_one(t, "{\"o\":{\"k\":\"v\\\"w\"},\"a\":[1,\n2]}") ==
        spec + R"("id":"i","source":"s","type":"t","subject":"u","data":{"t":"got {\"k\":\"v\\\"w\"}","u":"[1,\n2] items"}})");
}

TEST_CASE("strings keep their escapes: nothing is decoded and re-encoded") {
  auto t = compile(one_route(R"({"id":"{/id}","type":"t","source":"s","subject":"{/u}"})"));
  CHECK(mapped_one(t, R"({"id":"a\u00e9\n\/b","u":"\"quoted\""})") ==
        spec + R"("id":"a\u00e9\n\/b","source":"s","type":"t","subject":"\"quoted\""})");
}

TEST_CASE("literal text with quotes, backslashes and control characters is escaped") {
  auto t = compile(one_route(R"({"id":"q\"b\\n\u0001","type":"t\ttab","source":"s","subject":"é"})"));
  CHECK(mapped_one(t, "{}") == spec + R"("id":"q\"b\\n\u0001","source":"s","type":"t\ttab","subject":"é"})");
}

TEST_CASE("{{ and }} are literal braces") {
  auto t = compile(one_route(R"({"id":"{{{/a}}}","type":"}}x{{","source":"s","subject":"u"})"));
  CHECK(mapped_one(t, R"({"a":"v"})") == spec + R"("id":"{v}","source":"s","type":"}x{","subject":"u"})");
}

TEST_CASE("keys in the routes file are matched unescaped against keys in the body, escaped or not") {
  auto t = compile(one_route(R"({"id":"{/us\u0065r}","type":"t","source":"s","subject":"{/naïve}"})"));
  CHECK(mapped_one(t, R"({"\u0075ser":"a","na\u00efve":"b"})") ==
        spec + R"("id":"a","source":"s","type":"t","subject":"b"})");
}

TEST_CASE("in data a member that points at nothing is left out; an array item becomes null") {
  auto t = compile(one_route(event_with(
      R"("data":{"model":"{/model}","gone":"{/nope}","txt":"x-{/nope}","deep":{"g":"{/a/b/c}","k":"{/k}"},"arr":["{/nope}","{/k}"],"lit":7,"yes":true,"nil":null})")));
  CHECK(mapped_one(t, R"({"model":"gpt","k":1,"a":{"b":"scalar"}})") ==
        spec +
            R"("id":"i","source":"s","type":"t","subject":"u","data":{"model":"gpt","deep":{"k":1},"arr":[null,1],"lit":7,"yes":true,"nil":null}})");
}

TEST_CASE("in data null keeps its place as a single placeholder, and counts as nothing inside text") {
  auto t = compile(one_route(event_with(R"("data":{"z":"{/z}","zt":"z={/z}"})")));
  CHECK(mapped_one(t, R"({"z":null})") == spec + R"("id":"i","source":"s","type":"t","subject":"u","data":{"z":null}})");
}

TEST_CASE("data that is one placeholder pointing at nothing is left out entirely") {
  auto t = compile(one_route(event_with(R"("data":"{/payload}")")));
  CHECK(mapped_one(t, R"({"other":1})") == spec + R"("id":"i","source":"s","type":"t","subject":"u"})");
}

TEST_CASE("{} is the whole element, byte for byte") {
  auto t = compile(one_route(event_with(R"("data":"{}")")));
  const std::string body = "{ \"kind\" : \"paid\",\n  \"n\": 1.0 }";
  CHECK(mapped_one(t, "  " + body + "\n") == spec + R"("id":"i","source":"s","type":"t","subject":"u","data":)" + body + "}");
}

TEST_CASE("the first of two members with the same name is the one a pointer finds") {
  auto t = compile(one_route(R"({"id":"{/id}","type":"t","source":"s","subject":"{/o/u}"})"));
  CHECK(mapped_one(t, R"({"id":"first","o":{"u":"a","u":"b"},"id":"second"})") ==
        spec + R"("id":"first","source":"s","type":"t","subject":"a"})");
}

TEST_CASE("a pointer into a value of the wrong kind points at nothing") {
  auto t = compile(one_route(event_with(R"("data":{"a":"{/s/x}","b":"{/o/0}","c":"{/n/0}"})")));
  CHECK(mapped_one(t, R"({"s":"str","o":{"x":1},"n":5})") ==
        spec + R"("id":"i","source":"s","type":"t","subject":"u","data":{}})");
}

TEST_CASE("a pointer that is the prefix of another records both values") {
  auto t = compile(one_route(event_with(R"("data":{"usage":"{/usage}","p":"{/usage/prompt_tokens}"})")));
  CHECK(mapped_one(t, R"({"usage":{"prompt_tokens":3,"completion_tokens":4},"z":0})") ==
        spec +
            R"("id":"i","source":"s","type":"t","subject":"u","data":{"usage":{"prompt_tokens":3,"completion_tokens":4},"p":3}})");
}
