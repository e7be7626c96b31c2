// SPDX-License-Identifier: Apache-2.0
// The engine over whole requests: `each`, the issue's two example routes, hash
// stability, time formats, the errors that name route, element and pointer,
// malformed bodies, and the bounds on events and output.
#include <string>

#include "test_util.hpp"

using namespace tg::mapping;
using test::compile;
using test::event_with;
using test::map_error;
using test::mapped;
using test::mapped_one;
using test::one_route;

namespace {

const std::string spec = R"({"specversion":"1.0",)";

const std::string llm_routes = R"({"routes": [
  {"path": "/ingest/llm-usage", "each": "{/requests}",
   "event": {"id": "{/request_id}", "type": "llm-tokens", "source": "gateway-{/region}",
             "subject": "{/user}", "time": "{/created}", "time_format": "unix_s",
             "data": {"model": "{/model}", "prompt_tokens": "{/usage/prompt_tokens}"}}},
  {"path": "/ingest/webhook",
   "event": {"id": "{#hash}", "type": "webhook.{/kind}", "source": "hooks", "subject": "{/account}", "data": "{}"}}
]})";

}  // namespace

TEST_CASE("the issue's LLM route maps each request of the body to one event") {
  auto t = compile(llm_routes);
  const std::string body = R"({"region":"ignored-at-top","requests":[
    {"request_id":"r1","region":"eu","user":"alice","created":1712345678,"model":"gpt-4o",
     "usage":{"prompt_tokens":12,"completion_tokens":30}},
    {"request_id":"r2","region":"us","user":"bob","model":"o1","usage":{"completion_tokens":1}}
  ]})";
  auto evs = mapped(t, body, "/ingest/llm-usage");
  REQUIRE(evs.size() == 2);
  // 1712345678 is 2024-04-05T19:34:38Z (python3: datetime.fromtimestamp(1712345678, timezone.utc)).
  CHECK(evs[0] == spec +
                      R"("id":"r1","source":"gateway-eu","type":"llm-tokens","subject":"alice","time":"2024-04-05T19:34:38.000Z","data":{"model":"gpt-4o","prompt_tokens":12}})");
  // No `created`: no time (the gateway stamps receipt time); no prompt_tokens: the member is left out.
  CHECK(evs[1] == spec + R"("id":"r2","source":"gateway-us","type":"llm-tokens","subject":"bob","data":{"model":"o1"}})");
}

TEST_CASE("the issue's webhook route takes the whole body as data and a hash as id") {
  auto t = compile(llm_routes);
  const std::string body = R"({"kind":"paid","account":"acme","amount":12})";
  // python3 -c 'import hashlib; print(hashlib.sha256(b"/ingest/webhook\x00" +
  //   b"{\"kind\":\"paid\",\"account\":\"acme\",\"amount\":12}").hexdigest()[:32])'
  auto evs = mapped(t, body, "/ingest/webhook");
  REQUIRE(evs.size() == 1);
  CHECK(evs[0] == spec + R"("id":"75d3669c47e1dc10dded126c8c53fb18","source":"hooks","type":"webhook.paid","subject":"acme","data":)" +
                      body + "}");
}

TEST_CASE("{#hash} is stable: same path and bytes give the same id, anything else another") {
  auto t = compile(R"({"routes":[
    {"path":"/a","each":"{}","event":{"id":"{#hash}","type":"t","source":"s","subject":"{/user}"}},
    {"path":"/b","each":"{}","event":{"id":"h-{#hash}","type":"t","source":"s","subject":"{/user}","data":{"h":"{#hash}"}}}]})");
  const std::string el = R"({"user":"u1","n":1})";
  auto a = mapped(t, "[" + el + ", " + el + ",{\"user\":\"u1\",\"n\":2}]", "/a");
  REQUIRE(a.size() == 3);
  CHECK(a[0] == a[1]);  // a retried element is deduplicated
  CHECK(a[0] != a[2]);
  // Computed independently:
  // python3 -c 'import hashlib; print(hashlib.sha256(b"/a\x00{\"user\":\"u1\",\"n\":1}").hexdigest()[:32])'
  CHECK(a[0].find(R"("id":"ed106ba8cf18a57c57f24c69363fa816")") != std::string::npos);
  auto b = mapped(t, "[" + el + "]", "/b");
  REQUIRE(b.size() == 1);
  // The same element under another path is another id; {#hash} twice is one value.
  const std::string hb = b[0].substr(b[0].find("\"id\":\"h-") + 8, 32);
  CHECK(hb != a[0].substr(a[0].find("\"id\":\"") + 6, 32));
  CHECK(b[0].find("\"data\":{\"h\":\"" + hb + "\"}") != std::string::npos);
}

TEST_CASE("each reaches through nested members and arrays, and {} makes the body the array") {
  auto t = compile(R"({"routes":[
    {"path":"/deep","each":"{/a/1/b}","event":{"id":"{/id}","type":"t","source":"s","subject":"u"}},
    {"path":"/top","each":"{}","event":{"id":"{/id}","type":"t","source":"s","subject":"u"}}]})");
  auto d = mapped(t, R"({"a":[{"b":[{"id":"no"}]},{"b":[{"id":"x"},{"id":"y"}]}]})", "/deep");
  REQUIRE(d.size() == 2);
  CHECK(d[0].find(R"("id":"x")") != std::string::npos);
  CHECK(d[1].find(R"("id":"y")") != std::string::npos);
  auto top = mapped(t, R"([{"id":"1"},{"id":"2"},{"id":"3"}])", "/top");
  CHECK(top.size() == 3);
}

TEST_CASE("each over an empty array maps no events") {
  auto t = compile(one_route(event_with(""), "{/xs}"));
  auto o = test::map_body(t, R"({"xs":[]})");
  REQUIRE(o.ok);
  CHECK(o.out.events == 0);
  CHECK(o.json() == "[]");
  CHECK(o.validated);
}

TEST_CASE("each that is missing or not an array is an error naming the route and pointer") {
  auto t = compile(one_route(event_with(""), "{/xs}"));
  CHECK(map_error(t, R"({"ys":[]})") == "route /in: each: /xs points at nothing");
  CHECK(map_error(t, R"({"xs":{"a":1}})") == "route /in: each: /xs is an object, not an array");
  CHECK(map_error(t, R"({"xs":"a"})") == "route /in: each: /xs is a string, not an array");
  CHECK(map_error(t, R"([1])") == "route /in: each: /xs points at nothing");
  auto top = compile(one_route(event_with(""), "{}"));
  CHECK(map_error(top, R"({"a":1})") == "route /in: each: the body is an object, not an array");
  CHECK(map_error(top, "17") == "route /in: each: the body is a number, not an array");
}

TEST_CASE("a required attribute pointing at nothing names the route, the element and the pointer") {
  auto t = compile(one_route(R"({"id":"{/request_id}","type":"t","source":"s","subject":"{/user/name}"})", "{/rs}"));
  CHECK(map_error(t, R"({"rs":[{"request_id":"a","user":{"name":"x"}},{"request_id":"b"}]})") ==
        "route /in: element 1: subject: /user/name points at nothing");
  CHECK(map_error(t, R"({"rs":[{"user":{"name":"x"}}]})") == "route /in: element 0: id: /request_id points at nothing");
  CHECK(map_error(t, R"({"rs":[{"request_id":null,"user":{"name":"x"}}]})") == "route /in: element 0: id: /request_id is null");
  CHECK(map_error(t, R"({"rs":[{"request_id":"","user":{"name":"x"}}]})") == "route /in: element 0: id is empty");
  test::outcome o = test::map_body(t, R"({"rs":[{"request_id":"a","user":{"name":"x"}},{"request_id":"b"}]})");
  CHECK(o.err.code == errc::unmapped);
  CHECK(o.err.index == 1);
  auto whole = compile(one_route(R"({"id":"{}","type":"t","source":"s","subject":"u"})"));
  CHECK(map_error(whole, "null") == "route /in: element 0: id: {} is null");
}

TEST_CASE("time formats: rfc3339 kept as sent, unix_s and unix_ms written as RFC 3339") {
  auto rfc = compile(one_route(event_with(R"("time":"{/t}")")));
  CHECK(mapped_one(rfc, R"({"t":"2024-04-05T19:34:38+02:00"})").find(R"("time":"2024-04-05T19:34:38+02:00")") !=
        std::string::npos);
  auto pieces = compile(one_route(event_with(R"("time":"{/d}T{/h}Z","time_format":"rfc3339")")));
  CHECK(mapped_one(pieces, R"({"d":"2024-01-02","h":"03:04:05"})").find(R"("time":"2024-01-02T03:04:05Z")") !=
        std::string::npos);

  auto s = compile(one_route(event_with(R"("time":"{/t}","time_format":"unix_s")")));
  auto ms = compile(one_route(event_with(R"("time":"{/t}","time_format":"unix_ms")")));
  auto time_of = [](const tg::mapping::route_table& t, const std::string& v) {
    std::string ev = mapped_one(t, "{\"t\":" + v + "}");
    const auto at = ev.find("\"time\":\"");
    return at == std::string::npos ? std::string("none") : ev.substr(at + 8, 24);
  };
  // Expected values: python3 datetime.fromtimestamp(x, timezone.utc).
  CHECK(time_of(s, "1712345678") == "2024-04-05T19:34:38.000Z");
  CHECK(time_of(s, "1712345678.123") == "2024-04-05T19:34:38.123Z");  // exact: not 0.12299 as a double
  CHECK(time_of(s, "1712345678.1239") == "2024-04-05T19:34:38.123Z");  // past the millisecond: dropped
  CHECK(time_of(s, "\"1712345678\"") == "2024-04-05T19:34:38.000Z");  // a string of digits works too
  CHECK(time_of(s, "0") == "1970-01-01T00:00:00.000Z");
  CHECK(time_of(s, "-1") == "1969-12-31T23:59:59.000Z");
  CHECK(time_of(s, "253402300799") == "9999-12-31T23:59:59.000Z");
  CHECK(time_of(ms, "1712345678123") == "2024-04-05T19:34:38.123Z");
  CHECK(time_of(ms, "-1") == "1969-12-31T23:59:59.999Z");
  CHECK(time_of(ms, "1712345678123.9") == "2024-04-05T19:34:38.123Z");
  CHECK(time_of(s, "null") == "none");   // null: receipt time, as in OpenMeter
  CHECK(mapped_one(ms, "{}").find("time") == std::string::npos);  // no member: receipt time

  CHECK(map_error(s, R"({"t":"soon"})") ==
        "route /in: element 0: time: \"soon\" is not a unix_s time (seconds since 1970-01-01 as a decimal number, "
        "years 0000-9999)");
  CHECK(map_error(ms, R"({"t":1.7e12})").starts_with("route /in: element 0: time: \"1.7e12\" is not a unix_ms time"));
  CHECK(map_error(s, R"({"t":253402300800})").starts_with("route /in: element 0: time: \"253402300800\" is not a unix_s"));
  CHECK(map_error(s, R"({"t":"1."})").starts_with("route /in: element 0: time: \"1.\" is not"));
  CHECK(map_error(s, R"({"t":"-"})").starts_with("route /in: element 0: time: \"-\" is not"));
}

TEST_CASE("a time the validator refuses is refused with the event's index") {
  auto t = compile(one_route(event_with(R"("time":"{/t}")"), "{/xs}"));
  test::outcome o = test::map_body(t, R"({"xs":[{"t":"2024-01-01T00:00:00Z"},{"t":"yesterday"}]})");
  REQUIRE(o.ok);
  CHECK_FALSE(o.validated);
  CHECK(o.validator_detail.starts_with("invalid event at index 1: time must be an RFC 3339 date-time"));
}

TEST_CASE("a body that is not exactly one JSON value is refused whole") {
  auto t = compile(one_route(R"({"id":"{/id}","type":"t","source":"s","subject":"u"})", "{/xs}"));
  CHECK(map_error(t, "") == "request body is empty");
  CHECK(map_error(t, " \n") == "request body is empty");
  CHECK(map_error(t, "{").starts_with("malformed JSON: "));
  CHECK(map_error(t, R"({"xs":[{"id":"a"}]} x)") == "malformed JSON: unexpected data after the JSON value at byte 20");
  // Values nobody points at are still checked, down to their last byte.
  CHECK(map_error(t, R"({"other":tru,"xs":[{"id":"a"}]})").starts_with("malformed JSON: "));
  CHECK(map_error(t, R"({"xs":[{"id":"a","n":01}]})").starts_with("malformed JSON: "));
  CHECK(map_error(t, R"({"xs":[{"id":"a","s":"\q"}]})").starts_with("malformed JSON: "));
  CHECK(map_error(t, R"({"xs":[{"id":"a"}],"z":[1,2,]})").starts_with("malformed JSON: "));
  auto one = compile(one_route(event_with("")));
  CHECK(map_error(one, "1 2").starts_with("malformed JSON: unexpected data after the JSON value at byte 1"));
  CHECK(map_error(one, "nul").starts_with("malformed JSON: "));
  test::outcome o = test::map_body(one, "{");
  CHECK(o.err.code == errc::malformed_json);
}

TEST_CASE("a body the JSON scanner refuses outright is malformed JSON, also on a mapper used before") {
  // Found by tests/fuzz/mapping_fuzz.cpp: the error path asked a document
  // that was never made where its error lay.
  auto t = compile(one_route(R"({"id":"{/id}","type":"t","source":"s","subject":"u"})"));
  const route* r = t.find("/in");
  mapper m;
  output out;
  error err;
  int i = 0;
  for (std::string body : {std::string(R"({"id":"a"})"), std::string("{\"id\":\"unclosed"), std::string("{\"id\":\"\xff\"}")}) {
    CAPTURE(i);
    const std::size_t n = body.size();
    body.append(64, ' ');
    const bool ok = m.map(*r, std::string_view(body.data(), n), out, err);
    if (i++ == 0) {
      CHECK_MESSAGE(ok, err.detail);
    } else {
      CHECK_FALSE(ok);
      CHECK(err.code == errc::malformed_json);
      CHECK(err.detail.starts_with("malformed JSON: "));
      CHECK(err.detail.find("near byte") == std::string::npos);
    }
  }
}

TEST_CASE("deep nesting is refused, not recursed into without bound") {
  auto t = compile(one_route(R"({"id":"{/a}","type":"t","source":"s","subject":"u"})"));
  const std::string deep = std::string(300, '[') + std::string(300, ']');
  CHECK(map_error(t, "{\"a\":\"x\",\"b\":" + deep + "}").starts_with("malformed JSON: "));
}

TEST_CASE("more elements than max_events is 413, at the bound not before") {
  auto t = compile(one_route(event_with(""), "{}"));
  options opts;
  opts.max_events = 3;
  test::outcome ok = test::map_body(t, "[{},{},{}]", "/in", opts);
  CHECK(ok.ok);
  CHECK(ok.out.events == 3);
  test::outcome o = test::map_body(t, "[{},{},{},{}]", "/in", opts);
  CHECK_FALSE(o.ok);
  CHECK(o.err.code == errc::too_many_events);
  CHECK(o.err.detail == "too many events: at most 3 per request");
  opts.max_events = 0;
  CHECK(map_error(compile(one_route(event_with(""))), "{}", opts) == "too many events: at most 0 per request");
}

TEST_CASE("mapped output past max_output_bytes is 413") {
  auto t = compile(one_route(event_with(R"("data":{"a":"{}","b":"{}","c":"{}"})"), "{}"));
  options opts;
  opts.max_output_bytes = 1000;
  std::string body = "[";
  for (int i = 0; i < 20; ++i) body += std::string(i ? "," : "") + "{\"pad\":\"" + std::string(20, 'x') + "\"}";
  body += "]";
  test::outcome o = test::map_body(t, body, "/in", opts);
  CHECK_FALSE(o.ok);
  CHECK(o.err.code == errc::output_too_large);
  CHECK(o.err.detail == "mapped events too large: more than 1000 bytes per request");
}

TEST_CASE("one mapper maps request after request; a failure leaves nothing behind") {
  auto t = compile(one_route(R"({"id":"{/id}","type":"t","source":"s","subject":"u"})", "{}"));
  const route* r = t.find("/in");
  mapper m;
  output out;
  error err;
  auto run = [&](std::string body) {
    body.append(64, ' ');
    return m.map(*r, std::string_view(body.data(), body.size() - 64), out, err);
  };
  REQUIRE(run(R"([{"id":"a"},{"id":"b"}])"));
  CHECK(out.events == 2);
  CHECK_FALSE(run(R"([{"id":"a"},{}])"));
  CHECK(out.events == 0);
  CHECK(out.json().empty());
  CHECK(out.buf.compare(0, output_padding, std::string(output_padding, ' ')) == 0);
  REQUIRE(run(R"([{"id":"c"}])"));
  CHECK(out.json() == R"([{"specversion":"1.0","id":"c","source":"s","type":"t","subject":"u"}])");
  CHECK(err.code == errc::none);
}
