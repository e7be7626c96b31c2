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

TEST_CASE("an HTTP/2 client gets an empty SETTINGS frame, then GOAWAY with HTTP_1_1_REQUIRED") {
  std::string out;
  write_h2_goaway(out, "use HTTP/1.1");
  REQUIRE(out.size() == 9 + 9 + 8 + 12);
  // SETTINGS: length 0, type 4, no flags, stream 0.
  CHECK(out.substr(0, 9) == std::string("\0\0\0\x04\0\0\0\0\0", 9));
  const auto* g = reinterpret_cast<const unsigned char*>(out.data() + 9);
  CHECK(((g[0] << 16) | (g[1] << 8) | g[2]) == 8 + 12);  // frame length
  CHECK(g[3] == 0x7);                                      // GOAWAY
  CHECK(g[4] == 0);
  CHECK((g[5] | g[6] | g[7] | g[8]) == 0);                 // stream 0
  CHECK((g[9] | g[10] | g[11] | g[12]) == 0);              // last stream id 0
  CHECK(((g[13] << 24) | (g[14] << 16) | (g[15] << 8) | g[16]) == 0xd);
  CHECK(out.substr(9 + 17) == "use HTTP/1.1");
}

TEST_CASE("headers inserted after the status line of the response at an offset") {
  std::string out = "HTTP/1.1 204 No Content\r\n\r\n";
  const std::size_t at = out.size();
  write_empty(out, 204, connection::keep_alive);
  const std::pair<std::string_view, std::string_view> h[] = {{"Vary", "Origin"}};
  insert_headers(out, at, header_list(h, 1));
  CHECK(out == "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\nVary: Origin\r\n\r\n");
}
