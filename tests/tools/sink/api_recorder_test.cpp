// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's stand-in for the rest of OpenMeter's API: what it records of
// each call (method, target, Authorization, headers, body), its bound, and
// the canned answers the pass-through tests rely on.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <string>

#include "api_recorder.hpp"
#include "tollgate/http/request_parser.hpp"

using namespace tg;
using namespace tg::sink;

namespace {

// Parses one request with the real parser and records it.
void record_one(api_recorder& rec, const std::string& wire) {
  http::request_parser p;
  std::size_t off = 0;
  for (;;) {
    const http::feed_result r = p.feed({wire.data() + off, wire.size() - off});
    off += r.consumed;
    REQUIRE(r.ev != http::event::error);
    if (r.ev == http::event::message_complete) break;
    REQUIRE((r.ev != http::event::need_more || off < wire.size()));
  }
  rec.record(p.current());
}

}  // namespace

TEST_CASE("the api recorder keeps method, target, Authorization, headers and body, as JSON") {
  api_recorder rec;
  record_one(rec,
             "POST /api/v1/meters/m1/query?from=2024-01-01 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\"1\r\n"
             "Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"a\":\"b\"}");
  CHECK(rec.size() == 1);
  const std::string j = rec.json();
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(j);
  simdjson::dom::array calls = doc.get_array();
  REQUIRE(calls.size() == 1);
  simdjson::dom::object c = calls.at(0).get_object();
  CHECK(std::string_view(c["method"]) == "POST");
  CHECK(std::string_view(c["target"]) == "/api/v1/meters/m1/query?from=2024-01-01");
  CHECK(std::string_view(c["authorization"]) == "Bearer k\"1");
  CHECK(std::string_view(c["body"]) == "{\"a\":\"b\"}");
  simdjson::dom::array headers = c["headers"].get_array();
  CHECK(headers.size() == 4);
  CHECK(std::string_view(headers.at(2).at(0)) == "Content-Type");
  CHECK(std::string_view(headers.at(2).at(1)) == "application/json");
  rec.clear();
  CHECK(rec.size() == 0);
  CHECK(rec.json() == "[]\n");
}

TEST_CASE("the api recorder keeps only the last max_calls calls") {
  api_recorder rec;
  for (std::size_t i = 0; i < api_recorder::max_calls + 5; ++i) {
    record_one(rec, "GET /api/v1/x/" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  CHECK(rec.size() == api_recorder::max_calls);
  const std::string j = rec.json();
  CHECK(j.find("\"/api/v1/x/4\"") == std::string::npos);
  CHECK(j.find("\"/api/v1/x/5\"") != std::string::npos);
  CHECK(j.find("\"/api/v1/x/" + std::to_string(api_recorder::max_calls + 4) + "\"") != std::string::npos);
}

TEST_CASE("canned answers: meters list of about 2 KiB, query, event list, portal token, a 404 problem") {
  const canned meters = canned_answer("GET", "/api/v1/meters");
  CHECK(meters.status == 200);
  CHECK(meters.body.size() >= 1900);
  CHECK(meters.body.size() <= 2400);
  simdjson::dom::parser parser;
  CHECK(parser.parse(meters.body).get_array().size() == 8);
  const canned q = canned_answer("POST", "/api/v1/meters/tokens/query");
  CHECK(q.body.find("\"windowSize\":\"HOUR\"") != std::string::npos);
  CHECK(canned_answer("GET", "/api/v1/meters/tokens/query").body == q.body);
  CHECK(canned_answer("GET", "/api/v1/events").body.find("\"listed-1\"") != std::string::npos);
  CHECK(canned_answer("POST", "/api/v1/portal/tokens").status == 201);
  const canned missing = canned_answer("GET", "/api/v1/meters/missing");
  CHECK(missing.status == 404);
  CHECK(missing.content_type == "application/problem+json");
  const canned other = canned_answer("DELETE", "/api/v1/customers/c1");
  CHECK(other.status == 200);
  CHECK(other.body == "{\"method\":\"DELETE\",\"path\":\"/api/v1/customers/c1\"}");
}

TEST_CASE("canned answers of a chosen size, with a length or chunked") {
  CHECK(canned_answer("GET", "/api/test/bytes/5000").body.size() == 5000);
  CHECK(canned_answer("GET", "/api/test/chunked/123456").chunked_bytes == 123456);
  CHECK(canned_answer("GET", "/api/test/bytes/notanumber").body.find("\"method\"") != std::string::npos);
}
