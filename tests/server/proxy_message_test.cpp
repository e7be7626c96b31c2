// SPDX-License-Identifier: Apache-2.0
// The pass-through's message rewriting, as RFC 9110 asks of a gateway:
// hop-by-hop fields (and those named in Connection) never cross, the
// client's Authorization does untouched, Via / X-Forwarded-For / Forwarded
// are added, and bodies are framed for each side.
#include <doctest/doctest.h>

#include <string>

#include "proxy_message.hpp"
#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response_stream.hpp"

using namespace tg;
using namespace tg::server;

namespace {

struct parsed {
  http::request_parser parser;
  explicit parsed(const std::string& raw) {
    std::size_t off = 0;
    for (;;) {
      const auto r = parser.feed({raw.data() + off, raw.size() - off});
      off += r.consumed;
      REQUIRE(r.ev != http::event::error);
      if (r.ev == http::event::message_complete) break;
    }
  }
};

// A response head read by the real reader.
struct head_of {
  http::response_stream rs;
  std::string body;
  explicit head_of(const std::string& raw, bool head_request = false) {
    rs.start(head_request);
    const auto r = rs.feed({raw.data(), raw.size()}, body);
    REQUIRE(r.ev == http::stream_event::head_complete);
  }
  const http::response_head& get() const { return rs.head(); }
};

}  // namespace

TEST_CASE("hop-by-hop fields are known case-insensitively, and Connection options are found") {
  CHECK(proxy::hop_by_hop("Connection"));
  CHECK(proxy::hop_by_hop("keep-alive"));
  CHECK(proxy::hop_by_hop("TE"));
  CHECK(proxy::hop_by_hop("Transfer-Encoding"));
  CHECK(proxy::hop_by_hop("Upgrade"));
  CHECK(proxy::hop_by_hop("Proxy-Authorization"));
  CHECK_FALSE(proxy::hop_by_hop("Authorization"));
  CHECK_FALSE(proxy::hop_by_hop("Content-Type"));
  CHECK(proxy::named_in_connection("keep-alive, X-Secret ,close", "x-secret"));
  CHECK_FALSE(proxy::named_in_connection("keep-alive", "x-secret"));
}

TEST_CASE("the upstream request keeps path, query, method, Authorization and body, under the URL's prefix") {
  parsed p("POST /api/v1/meters/m1/query?from=2024&to=2025 HTTP/1.1\r\nHost: gw.example:4196\r\n"
           "Authorization: Bearer client-key\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
           "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
           "Upgrade: h2c\r\nExpect: 100-continue\r\nX-Custom: kept\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
  std::string out;
  proxy::write_upstream_request(p.parser.current(), "/om", "upstream.example", "10.1.2.3", out);
  CHECK(out.rfind("POST /om/api/v1/meters/m1/query?from=2024&to=2025 HTTP/1.1\r\nHost: upstream.example\r\n", 0) == 0);
  CHECK(out.find("Authorization: Bearer client-key\r\n") != std::string::npos);
  CHECK(out.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(out.find("X-Custom: kept\r\n") != std::string::npos);
  for (const char* gone : {"X-Hop", "Keep-Alive", "TE:", "Upgrade", "Expect", "Transfer-Encoding", "Connection",
                           "gw.example:4196\r\n"}) {
    CAPTURE(gone);
    CHECK(out.find(gone) == std::string::npos);
  }
  CHECK(out.find("Via: 1.1 tollgate\r\n") != std::string::npos);
  CHECK(out.find("X-Forwarded-For: 10.1.2.3\r\n") != std::string::npos);
  CHECK(out.find("Forwarded: for=10.1.2.3;host=\"gw.example:4196\"\r\n") != std::string::npos);
  CHECK(out.find("Content-Length: 7\r\n\r\n{\"a\":1}") != std::string::npos);
  CHECK(out.size() == out.find("\r\n\r\n") + 4 + 7);
}

TEST_CASE("the upstream request appends to the client's own forwarding fields; IPv6 is bracketed in Forwarded") {
  parsed p("GET /api/v1/events HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n"
           "Forwarded: for=1.1.1.1\r\nVia: 1.0 edge\r\n\r\n");
  std::string out;
  proxy::write_upstream_request(p.parser.current(), "", "up:8888", "::1", out);
  CHECK(out.find("X-Forwarded-For: 1.1.1.1, 2.2.2.2, ::1\r\n") != std::string::npos);
  CHECK(out.find("Forwarded: for=1.1.1.1, for=\"[::1]\";host=\"gw\"\r\n") != std::string::npos);
  CHECK(out.find("Via: 1.0 edge, 1.1 tollgate\r\n") != std::string::npos);
  CHECK(out.find("Content-Length") == std::string::npos);  // a GET without a body stays without one
}

TEST_CASE("the client head drops hop-by-hop fields and keeps a length the upstream gave") {
  head_of h("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: X-Up\r\nX-Up: 1\r\n"
            "Keep-Alive: timeout=5\r\nContent-Length: 2\r\nX-Powered-By: OpenMeter\r\n\r\n{}");
  std::string out;
  CHECK(proxy::write_client_head(h.get(), http::connection::keep_alive, true, out) == proxy::framing::length);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
               "X-Powered-By: OpenMeter\r\n\r\n");
}

TEST_CASE("a chunked or close-ended answer is chunked for HTTP/1.1 and close-ended for HTTP/1.0") {
  head_of chunked("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string out;
  CHECK(proxy::write_client_head(chunked.get(), http::connection::keep_alive, true, out) == proxy::framing::chunked);
  CHECK(out == "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n");
  out.clear();
  CHECK(proxy::write_client_head(chunked.get(), http::connection::keep_alive_http10, false, out) ==
        proxy::framing::until_close);
  CHECK(out == "HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n");
  head_of until_close("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n");
  out.clear();
  CHECK(proxy::write_client_head(until_close.get(), http::connection::close, true, out) == proxy::framing::chunked);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

TEST_CASE("answers to HEAD, 204 and 304 have no body and keep their fields") {
  head_of head("HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n", true);
  std::string out;
  CHECK(proxy::write_client_head(head.get(), http::connection::keep_alive_http10, false, out) == proxy::framing::none);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Length: 2048\r\nConnection: keep-alive\r\n\r\n");
}

TEST_CASE("chunks are framed in place and an empty one takes its size line back") {
  std::string out = "head";
  std::size_t mark = proxy::begin_chunk(out);
  out += "hello";
  proxy::end_chunk(out, mark);
  mark = proxy::begin_chunk(out);
  proxy::end_chunk(out, mark);
  proxy::write_last_chunk(out);
  CHECK(out == "head00000005\r\nhello\r\n0\r\n\r\n");
}
