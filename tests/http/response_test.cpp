// SPDX-License-Identifier: Apache-2.0
// Exact bytes of the responses tollgate sends: the 204 every accepted request
// gets, the problem+json errors, and the framing rules (no Content-Length on
// 204 / 1xx, Connection only when it differs from the version's default).
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "tollgate/http/response.hpp"

using namespace tg::http;
using hdr = std::pair<std::string_view, std::string_view>;

TEST_CASE("204 keep-alive is a status line and nothing else") {
  std::string out;
  write_empty(out, 204, connection::keep_alive);
  CHECK(out == "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_CASE("204 close carries Connection: close") {
  std::string out;
  write_empty(out, 204, connection::close);
  CHECK(out == "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

TEST_CASE("keep-alive for an HTTP/1.0 client is said explicitly") {
  std::string out;
  write_empty(out, 204, connection::keep_alive_http10);
  CHECK(out == "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
}

TEST_CASE("an empty non-204 response has Content-Length: 0") {
  std::string out;
  write_empty(out, 202, connection::keep_alive);
  CHECK(out == "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
  out.clear();
  write_empty(out, 100, connection::keep_alive);
  CHECK(out == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("extra headers are appended verbatim after Connection") {
  std::string out;
  const hdr extra[] = {{"Allow", "POST"}, {"Retry-After", "1"}};
  write_empty(out, 405, connection::close, extra);
  CHECK(out ==
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n"
        "Allow: POST\r\nRetry-After: 1\r\n\r\n");
}

TEST_CASE("write_continue writes the interim response") {
  std::string out = "x";
  write_continue(out);
  CHECK(out == "xHTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("write_body frames the body with its type and length") {
  std::string out;
  write_body(out, 200, "text/plain; version=0.0.4", "ok\n", connection::keep_alive);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 3\r\n\r\nok\n");
}

TEST_CASE("problem responses are application/problem+json with a correct Content-Length") {
  std::string out;
  const hdr extra[] = {{"Retry-After", "1"}};
  write_problem(out, 503, "", connection::keep_alive, extra);
  std::string body = R"({"type":"about:blank","title":"Service Unavailable","status":503})";
  CHECK(out == "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
               "Content-Length: " + std::to_string(body.size()) + "\r\nRetry-After: 1\r\n\r\n" + body);
}

TEST_CASE("problem detail is JSON-escaped like Go's encoder") {
  std::string out = "prefix";
  write_problem(out, 400, "invalid event at index 3: \"id\" <missing>\n\\", connection::close);
  std::string body =
      R"({"type":"about:blank","title":"Bad Request","status":400,)"
      R"("detail":"invalid event at index 3: \"id\" \u003cmissing\u003e\n\\"})";
  std::string expect = "prefixHTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n"
                       "Content-Length: " + std::to_string(body.size()) +
                       "\r\nConnection: close\r\n\r\n" + body;
  CHECK(out == expect);
  std::size_t split = out.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  CHECK(out.size() - split - 4 == body.size());
}

TEST_CASE("problem Content-Length is right across digit counts") {
  for (std::size_t n : {0u, 1u, 10u, 100u, 1000u, 100000u}) {
    std::string out;
    write_problem(out, 413, std::string(n, 'd'), connection::close);
    std::size_t split = out.find("\r\n\r\n");
    std::size_t cl = out.find("Content-Length: ");
    REQUIRE(cl != std::string::npos);
    std::size_t declared = std::stoul(out.substr(cl + 16));
    CAPTURE(n);
    CHECK(declared == out.size() - split - 4);
  }
}

TEST_CASE("reason phrases cover every status tollgate sends") {
  for (int s : {100, 200, 202, 204, 400, 401, 403, 404, 405, 408, 411, 413, 415, 429, 431, 500, 502, 503, 504,
                505}) {
    CAPTURE(s);
    CHECK(reason_phrase(s) != "Unknown");
  }
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(299) == "Unknown");
}

TEST_CASE("writers append without reallocating when capacity suffices") {
  std::string out;
  out.reserve(512);
  const char* before = out.data();
  write_empty(out, 204, connection::keep_alive);
  write_problem(out, 429, "slow down", connection::keep_alive);
  CHECK(out.data() == before);
}
