// SPDX-License-Identifier: Apache-2.0
// CloudEvents HTTP binary mode: which requests it is, the event it makes
// (checked by the real validator), percent-decoding and quoted strings,
// extensions, and the errors that name the header.
#include <string>
#include <vector>

#include "test_util.hpp"
#include "tollgate/mapping/binary_mode.hpp"

using namespace tg::mapping;

namespace {

using headers = std::vector<header>;

headers sdk_headers() {  // what the cloudevents SDKs' binary emitter sends
  return {{"Host", "127.0.0.1"},
          {"ce-specversion", "1.0"},
          {"ce-id", "evt-1"},
          {"ce-source", "svc"},
          {"ce-type", "api-calls"},
          {"ce-subject", "customer-1"}};
}

headers without(headers h, std::string_view name) {
  std::erase_if(h, [&](const header& x) { return x.first == name; });
  return h;
}

headers with(headers h, std::string_view name, std::string_view value) {
  h.emplace_back(name, value);
  return h;
}

struct result_t {
  bool ok = false;
  std::string json;
  std::string detail;
  bool valid = false;
  std::string validator_detail;
};

result_t convert(const headers& h, std::string_view body, std::string_view content_type = "application/json") {
  result_t r;
  output out;
  error err;
  std::string buf(body);
  buf.append(64, 'x');
  r.ok = from_binary(h, content_type, std::string_view(buf.data(), body.size()), out, err);
  r.detail = err.detail;
  r.json = std::string(out.json());
  if (r.ok) {
    CHECK(err.code == errc::none);
    CHECK(out.events == 1);
    REQUIRE(out.buf.size() >= out.json_size + output_padding);
    CHECK(out.buf.compare(out.json_size, output_padding, std::string(output_padding, ' ')) == 0);
    tg::cloudevents::validator v;
    std::vector<tg::cloudevents::event_ref> refs;
    tg::cloudevents::error verr;
    r.valid = v.validate(out.json(), tg::cloudevents::media_type::single, tg::cloudevents::api::v1, refs, verr);
    r.validator_detail = verr.detail;
  } else {
    CHECK(err.code == errc::binary_mode);
    CHECK(out.events == 0);
  }
  return r;
}

}  // namespace

TEST_CASE("binary mode is a ce-specversion header with a Content-Type that is not a CloudEvents format") {
  CHECK(is_binary_mode(sdk_headers(), "application/json"));
  CHECK(is_binary_mode(sdk_headers(), "text/plain"));
  CHECK(is_binary_mode(sdk_headers(), ""));
  CHECK(is_binary_mode(with({}, "CE-SpecVersion", "1.0"), "application/json"));
  CHECK_FALSE(is_binary_mode(sdk_headers(), "application/cloudevents+json"));
  CHECK_FALSE(is_binary_mode(sdk_headers(), "Application/CloudEvents-Batch+JSON; charset=utf-8"));
  CHECK_FALSE(is_binary_mode(without(sdk_headers(), "ce-specversion"), "application/json"));
}

TEST_CASE("JSON bodies are application/json or a +json type, in any case, parameters ignored") {
  for (std::string ct : {"application/json", "Application/JSON", " application/json ; charset=utf-8",
                         "application/vnd.api+json", "application/cloudevents+json", "text/x+JSON;q=1"}) {
    CAPTURE(ct);
    CHECK(is_json_media_type(ct));
  }
  for (std::string ct : {"", "text/plain", "application/jsonx", "+json", "/+json", "application/json5",
                         "application/x-ndjson", "json"}) {
    CAPTURE(ct);
    CHECK_FALSE(is_json_media_type(ct));
  }
}

TEST_CASE("binary mode makes one structured event with the body as data") {
  auto r = convert(sdk_headers(), R"({"duration_ms": 12, "path":"/"})");
  REQUIRE(r.ok);
  CHECK(r.json ==
        R"({"id":"evt-1","source":"svc","specversion":"1.0","type":"api-calls","subject":"customer-1","data":{"duration_ms": 12, "path":"/"}})");
  CHECK(r.valid);
}

TEST_CASE("binary mode carries time and dataschema, and extensions as string attributes") {
  headers h = with(with(with(sdk_headers(), "ce-time", "2018-04-05T03:56:24Z"), "ce-dataschema", "https://x/s"),
                   "CE-TraceParent", "00-abc");
  auto r = convert(h, "\n {\"a\":1}\r\n", "application/vnd.example+json; charset=utf-8");
  REQUIRE(r.ok);
  CHECK(r.json ==
        R"({"id":"evt-1","source":"svc","specversion":"1.0","type":"api-calls","subject":"customer-1","time":"2018-04-05T03:56:24Z","dataschema":"https://x/s","traceparent":"00-abc","data":{"a":1}})");
  CHECK(r.valid);
}

TEST_CASE("binary mode header values are percent-decoded once and JSON-escaped") {
  headers h = without(without(sdk_headers(), "ce-subject"), "ce-id");
  h.emplace_back("ce-subject", "Euro%20%E2%82%AC%20%F0%9F%98%80");  // the binding spec's own example
  h.emplace_back("ce-id", "a%22b%5Cc%0Ad%25%32%30");                  // quote, backslash, newline, %, and a %2520
  h.emplace_back("ce-note", "lower%c3%a9case");
  auto r = convert(h, "");
  REQUIRE(r.ok);
  CHECK(r.json.find(R"("subject":"Euro € 😀")") != std::string::npos);
  CHECK(r.json.find(R"("id":"a\"b\\c\nd%20")") != std::string::npos);  // one round only: %2520 -> %20
  CHECK(r.json.find(R"("note":"lowerécase")") != std::string::npos);
  CHECK(r.valid);
}

TEST_CASE("binary mode header values may be RFC 7230 quoted strings") {
  headers h = without(sdk_headers(), "ce-subject");
  h.emplace_back("ce-subject", R"("a \"quoted\" b%21")");
  auto r = convert(h, "");
  REQUIRE(r.ok);
  CHECK(r.json.find(R"("subject":"a \"quoted\" b!")") != std::string::npos);
  for (std::string bad : {R"("open)", R"("a"b")", R"("end\")"}) {
    CAPTURE(bad);
    headers hb = without(sdk_headers(), "ce-subject");
    hb.emplace_back("ce-subject", bad);
    auto rb = convert(hb, "");
    CHECK_FALSE(rb.ok);
    CHECK(rb.detail.starts_with("ce-subject has "));
  }
}

TEST_CASE("binary mode refuses bad percent-encoding and bytes that are not UTF-8") {
  auto bad = [](std::string_view v) {
    headers h = without(sdk_headers(), "ce-source");
    h.emplace_back("ce-source", v);
    return convert(h, "").detail;
  };
  CHECK(bad("a%2") == "ce-source has a '%' not followed by two hex digits");
  CHECK(bad("a%zz") == "ce-source has a '%' not followed by two hex digits");
  CHECK(bad("%C0%A0") == "ce-source is not valid UTF-8 once percent-decoded");  // overlong U+0020, the spec's example
  CHECK(bad("%ED%A0%80") == "ce-source is not valid UTF-8 once percent-decoded");  // a surrogate
  CHECK(bad("%F4%90%80%80") == "ce-source is not valid UTF-8 once percent-decoded");  // past U+10FFFF
  CHECK(bad("%E2%82") == "ce-source is not valid UTF-8 once percent-decoded");  // cut short
  headers h = without(sdk_headers(), "ce-x");
  h.emplace_back("ce-x", "%ff");
  CHECK(convert(h, "").detail == "header ce-x is not valid UTF-8 once percent-decoded");
}

TEST_CASE("a missing required attribute header is named: ce-id is missing") {
  for (std::string name : {"ce-id", "ce-source", "ce-type", "ce-subject"}) {
    CAPTURE(name);
    auto r = convert(without(sdk_headers(), name), "{}");
    CHECK_FALSE(r.ok);
    CHECK(r.detail == name + " is missing");
  }
  // Reported in a fixed order: id first.
  CHECK(convert(without(without(sdk_headers(), "ce-type"), "ce-id"), "{}").detail == "ce-id is missing");
  headers empty = without(sdk_headers(), "ce-id");
  empty.emplace_back("ce-id", "");
  CHECK(convert(empty, "{}").detail == "ce-id must not be empty");
}

TEST_CASE("a repeated or badly named ce- header is refused, naming it") {
  CHECK(convert(with(sdk_headers(), "CE-ID", "again"), "{}").detail == "ce-id is repeated");
  CHECK(convert(with(with(sdk_headers(), "ce-ext", "1"), "Ce-Ext", "2"), "{}").detail == "header Ce-Ext is repeated");
  CHECK(convert(with(sdk_headers(), "ce-my-ext", "1"), "{}").detail ==
        "header ce-my-ext: a CloudEvents attribute name is letters a-z and digits 0-9 only");
  CHECK(convert(with(sdk_headers(), "ce-", "1"), "{}").detail ==
        "header ce-: a CloudEvents attribute name is letters a-z and digits 0-9 only");
  CHECK(convert(with(sdk_headers(), "ce-datacontenttype", "application/json"), "{}").detail ==
        "ce-datacontenttype must not be sent in binary mode: Content-Type gives the data's type");
  CHECK(convert(with(sdk_headers(), "ce-data", "x"), "{}").detail ==
        "header ce-data is not an attribute: in binary mode the body is the data");
}

TEST_CASE("binary mode values the validator refuses are refused by it, as for structured events") {
  auto r = convert(with(without(sdk_headers(), "ce-specversion"), "ce-specversion", "2.0"), "{}");
  REQUIRE(r.ok);
  CHECK_FALSE(r.valid);
  CHECK(r.validator_detail == "invalid event: specversion must be 1.0 or 0.3, got \"2.0\"");
  auto t = convert(with(sdk_headers(), "ce-time", "yesterday"), "{}");
  REQUIRE(t.ok);
  CHECK_FALSE(t.valid);
  CHECK(t.validator_detail.starts_with("invalid event: time must be an RFC 3339 date-time"));
}

TEST_CASE("binary mode takes only a JSON object (or null) as the body, under a JSON Content-Type") {
  CHECK(convert(sdk_headers(), "{}", "text/plain").detail ==
        "unsupported Content-Type \"text/plain\" in binary mode: the body becomes the event's data, which must be "
        "JSON (application/json or a +json type)");
  CHECK(convert(sdk_headers(), "{}", "application/jsonx").ok == false);
  CHECK(convert(sdk_headers(), "{}", "+json").ok == false);
  CHECK(convert(sdk_headers(), "{}", "").detail.starts_with("Content-Type is missing: "));
  CHECK(convert(sdk_headers(), "[1]").detail ==
        "in binary mode the body must be a JSON object (it becomes the event's data)");
  CHECK(convert(sdk_headers(), "\"s\"").detail ==
        "in binary mode the body must be a JSON object (it becomes the event's data)");
  auto null_body = convert(sdk_headers(), " null ");
  REQUIRE(null_body.ok);
  CHECK(null_body.json.ends_with(R"("data":null})"));
  CHECK(null_body.valid);
  // No body: no data, whatever the Content-Type.
  auto none = convert(sdk_headers(), "  ", "text/plain");
  REQUIRE(none.ok);
  CHECK(none.json.find("data") == std::string::npos);
  CHECK(none.valid);
}

TEST_CASE("a binary-mode body cannot smuggle attributes into the event") {
  // Were the body pasted in unchecked, `{},"time":...` would add a time.
  CHECK(convert(sdk_headers(), R"({},"time":"2020-01-01T00:00:00Z")").detail ==
        "malformed JSON: unexpected data after the JSON value at byte 2");
  CHECK(convert(sdk_headers(), R"({"a":"}"} ,"x":1)").detail ==
        "malformed JSON: unexpected data after the JSON value at byte 10");
  CHECK(convert(sdk_headers(), R"({"a":1)").detail == "malformed JSON: the body ends inside its object");
  CHECK(convert(sdk_headers(), R"({"a":"}\"})").detail == "malformed JSON: the body ends inside its object");
  // Balanced but not JSON: the validator refuses the event.
  auto r = convert(sdk_headers(), R"({"a":[1}])");
  REQUIRE(r.ok);
  CHECK_FALSE(r.valid);
  CHECK(r.validator_detail.starts_with("malformed JSON: "));
}
