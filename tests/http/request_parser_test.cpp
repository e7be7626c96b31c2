// SPDX-License-Identifier: Apache-2.0
// Behaviour of the HTTP/1.1 request parser on well-formed input: events and
// their order, exact consumed counts, fragmentation, pipelining, chunked
// bodies, keep-alive rules, and buffer reuse between requests.
#include <doctest/doctest.h>

#include <cstring>

#include "parser_driver.hpp"

using namespace tg::http;
using namespace tg::http::test;
using namespace std::string_view_literals;

namespace {

constexpr std::string_view post_head =
    "POST /api/v1/events?dry=1 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "Content-Type:  application/cloudevents+json \r\n"
    "Authorization: Bearer tok \r\n"
    "Content-Length: 27\r\n"
    "\r\n";
constexpr std::string_view post_body = R"({"id":"1","source":"s","x"})";

std::string post() { return std::string(post_head) + std::string(post_body); }

std::span<const char> as_span(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

TEST_CASE("parser reports head_complete before reading a body") {
  request_parser p;
  std::string all = post();
  feed_result r = p.feed(as_span(std::string_view(all).substr(0, post_head.size() + 5)));
  CHECK(r.ev == event::head_complete);
  CHECK(r.consumed == post_head.size());
  CHECK(p.in_request());
  const request& q = p.current();
  CHECK(q.verb == method::post);
  CHECK(q.method_name == "POST");
  CHECK(q.target == "/api/v1/events?dry=1");
  CHECK(q.path == "/api/v1/events");
  CHECK(q.version_major == 1);
  CHECK(q.version_minor == 1);
  CHECK(q.keep_alive);
  CHECK_FALSE(q.expect_continue);
  CHECK_FALSE(q.chunked);
  CHECK(q.has_content_length);
  CHECK(q.content_length == 27);
  CHECK(q.has_content_type);
  CHECK(q.content_type == "application/cloudevents+json");
  CHECK(q.authorization == "Bearer tok");
  CHECK(q.header_count == 4);
  CHECK(q.header("HOST") == "example.com");
  CHECK(q.header("content-length") == "27");
  CHECK(q.header("x-missing").empty());
  CHECK(q.body.empty());

  r = p.feed(as_span(std::string_view(all).substr(post_head.size())));
  CHECK(r.ev == event::message_complete);
  CHECK(r.consumed == post_body.size());
  CHECK(p.current().body == post_body);
  CHECK_FALSE(p.in_request());
}

TEST_CASE("parser gives identical results at every split point and byte by byte") {
  std::string all = post();
  outcome whole = drive_whole(all);
  REQUIRE(whole.error == parse_errc::none);
  REQUIRE(whole.messages.size() == 1);
  CHECK(whole.heads == 1);
  CHECK(whole.messages[0].body == post_body);
  CHECK(whole.messages[0].headers.size() == 4);
  for (std::size_t i = 0; i <= all.size(); ++i) {
    request_parser p;
    std::string_view v(all);
    CAPTURE(i);
    CHECK(drive(p, {v.substr(0, i), v.substr(i)}) == whole);
  }
  request_parser p;
  CHECK(drive(p, bytewise(all)) == whole);
}

TEST_CASE("parser handles pipelined requests one at a time with exact consumed counts") {
  std::string a = post();
  std::string b = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string c = "POST /api/v1/events HTTP/1.1\r\nContent-Length: 3\r\n\r\n[1]";
  std::string all = a + b + c;
  request_parser p;
  std::span<const char> rest = as_span(all);

  feed_result r = p.feed(rest);
  CHECK(r.ev == event::head_complete);
  CHECK(r.consumed == post_head.size());
  rest = rest.subspan(r.consumed);
  r = p.feed(rest);
  CHECK(r.ev == event::message_complete);
  CHECK(r.consumed == post_body.size());
  CHECK(p.current().body == post_body);
  rest = rest.subspan(r.consumed);
  p.next();

  r = p.feed(rest);
  CHECK(r.ev == event::head_complete);
  CHECK(r.consumed == b.size());
  CHECK(p.current().target == "/healthz");
  rest = rest.subspan(r.consumed);
  r = p.feed(rest);
  CHECK(r.ev == event::message_complete);
  CHECK(r.consumed == 0);
  CHECK(p.current().body.empty());
  p.next();

  r = p.feed(rest);
  CHECK(r.ev == event::head_complete);
  CHECK(r.consumed == c.size() - 3);
  rest = rest.subspan(r.consumed);
  r = p.feed(rest);
  CHECK(r.ev == event::message_complete);
  CHECK(r.consumed == 3);
  CHECK(p.current().body == "[1]");
  rest = rest.subspan(r.consumed);
  CHECK(rest.empty());
  p.next();
  r = p.feed(rest);
  CHECK(r.ev == event::need_more);
  CHECK(r.consumed == 0);

  outcome o = drive_whole(all);
  CHECK(o.messages.size() == 3);
  CHECK(o.heads == 3);
  request_parser q;
  CHECK(drive(q, bytewise(all)) == o);
}

TEST_CASE("a request without a body gives head_complete then message_complete on the same bytes") {
  SUBCASE("GET, then a zero-length feed") {
    request_parser p;
    std::string_view get = "GET / HTTP/1.1\r\n\r\n";
    feed_result r = p.feed(as_span(get));
    CHECK(r.ev == event::head_complete);
    CHECK(r.consumed == get.size());
    r = p.feed({});
    CHECK(r.ev == event::message_complete);
    CHECK(r.consumed == 0);
    CHECK(p.current().body.empty());
    CHECK(p.current().body.data() != nullptr);  // padding readable even when empty
  }
  SUBCASE("POST with Content-Length: 0 followed by another request") {
    request_parser p;
    std::string_view two = "POST /a HTTP/1.1\r\nContent-Length: 0\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    feed_result r = p.feed(as_span(two));
    CHECK(r.ev == event::head_complete);
    CHECK(p.current().has_content_length);
    CHECK(p.current().content_length == 0);
    std::span<const char> rest = as_span(two).subspan(r.consumed);
    r = p.feed(rest);
    CHECK(r.ev == event::message_complete);
    CHECK(r.consumed == 0);
    p.next();
    r = p.feed(rest);
    CHECK(r.ev == event::head_complete);
    CHECK(p.current().path == "/b");
  }
}

TEST_CASE("parser assembles chunked bodies, skipping extensions and trailers") {
  std::string_view req =
      "POST /api/v1/events HTTP/1.1\r\n"
      "Transfer-Encoding: chunked\r\n"
      "Content-Type: application/json\r\n"
      "\r\n"
      "5;name=value\r\nhello\r\n"
      "1;ext\r\n \r\n"
      "A\r\nworld12345\r\n"
      "0\r\n"
      "X-Checksum: abc\r\n"
      "\r\n";
  outcome whole = drive_whole(req);
  REQUIRE(whole.error == parse_errc::none);
  REQUIRE(whole.messages.size() == 1);
  const parsed& m = whole.messages[0];
  CHECK(m.chunked);
  CHECK_FALSE(m.has_content_length);
  CHECK(m.body == "hello world12345");
  CHECK(m.headers.size() == 2);  // trailers are not headers
  request_parser p;
  CHECK(drive(p, bytewise(req)) == whole);
  for (std::size_t i = 0; i <= req.size(); ++i) {
    request_parser q;
    CAPTURE(i);
    CHECK(drive(q, {req.substr(0, i), req.substr(i)}) == whole);
  }
}

TEST_CASE("parser reports Expect: 100-continue") {
  SUBCASE("HTTP/1.1, any case") {
    outcome o = drive_whole("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx");
    REQUIRE(o.messages.size() == 1);
    CHECK(o.messages[0].expect_continue);
  }
  SUBCASE("absent") {
    outcome o = drive_whole("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx");
    CHECK_FALSE(o.messages[0].expect_continue);
  }
  SUBCASE("other expectation") {
    outcome o = drive_whole("POST / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx");
    CHECK_FALSE(o.messages[0].expect_continue);
  }
  SUBCASE("ignored from HTTP/1.0") {
    outcome o = drive_whole("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
    CHECK_FALSE(o.messages[0].expect_continue);
  }
}

TEST_CASE("keep-alive follows the HTTP version and the Connection header") {
  auto ka = [](std::string_view req) {
    outcome o = drive_whole(req);
    REQUIRE(o.messages.size() == 1);
    return o.messages[0].keep_alive;
  };
  CHECK_FALSE(ka("GET / HTTP/1.0\r\n\r\n"));
  CHECK(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(ka("GET / HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(ka("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
}

TEST_CASE("bytes after a Connection: close request are consumed and ignored") {
  // llhttp's default (loose) build discards them rather than failing; the
  // caller closes after answering a request whose keep_alive is false.
  outcome o = drive_whole("GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  CHECK(o.error == parse_errc::none);
  REQUIRE(o.messages.size() == 1);
  CHECK_FALSE(o.messages[0].keep_alive);
}

TEST_CASE("parser maps methods and keeps the method name as sent") {
  struct row {
    std::string_view name;
    method m;
  };
  for (row r : {row{"GET", method::get}, row{"HEAD", method::head}, row{"POST", method::post},
                row{"PUT", method::put}, row{"DELETE", method::del}, row{"PATCH", method::patch},
                row{"OPTIONS", method::options}, row{"PROPFIND", method::other},
                row{"CONNECT", method::other}}) {
    CAPTURE(r.name);
    std::string target = r.name == "CONNECT" ? "example.com:443" : "/";
    std::string req = std::string(r.name) + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
    outcome o = drive_whole(req);
    REQUIRE(o.messages.size() == 1);
    CHECK(o.messages[0].verb == r.m);
    CHECK(o.messages[0].method_name == r.name);
    CHECK(o.messages[0].target == target);
  }
}

TEST_CASE("an Upgrade request is served as an ordinary request") {
  outcome o = drive_whole(
      "GET /chat HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  CHECK(o.error == parse_errc::none);
  CHECK(o.messages.size() == 2);
}

TEST_CASE("header values are trimmed and empty values kept") {
  outcome o = drive_whole("GET / HTTP/1.1\r\nX-Empty:\r\nX-Spaces: \t a b \t\r\nauthorization:Basic x\r\n\r\n");
  REQUIRE(o.messages.size() == 1);
  const parsed& m = o.messages[0];
  REQUIRE(m.headers.size() == 3);
  CHECK(m.headers[0] == std::pair<std::string, std::string>{"X-Empty", ""});
  CHECK(m.headers[1].second == "a b");
  CHECK(m.authorization == "Basic x");
  CHECK_FALSE(m.content_type.size());
}

TEST_CASE("body is followed by body_padding readable zero bytes") {
  request_parser p;
  std::string all = post();
  std::span<const char> rest = as_span(all);
  feed_result r = p.feed(rest);
  r = p.feed(rest.subspan(r.consumed));
  REQUIRE(r.ev == event::message_complete);
  std::string_view body = p.current().body;
  const char* pad = body.data() + body.size();
  for (std::size_t i = 0; i < body_padding; ++i) CHECK(pad[i] == 0);
}

TEST_CASE("next() and reset() reuse the parser and its buffers") {
  request_parser p;
  std::string all = post();
  auto one = [&] {
    std::span<const char> rest = as_span(all);
    feed_result r = p.feed(rest);
    REQUIRE(r.ev == event::head_complete);
    r = p.feed(rest.subspan(r.consumed));
    REQUIRE(r.ev == event::message_complete);
    CHECK(p.current().body == post_body);
    return p.current().body.data();
  };
  const char* first = one();
  p.next();
  CHECK(p.current().body.empty());
  CHECK(p.current().header_count == 0);
  CHECK(one() == first);  // same body buffer: no allocation per request
  p.next();
  // reset() in the middle of a request starts over cleanly.
  p.feed(as_span(std::string_view(all).substr(0, 20)));
  CHECK(p.in_request());
  p.reset();
  CHECK_FALSE(p.in_request());
  CHECK(one() == first);
}

TEST_CASE("shrink() between requests frees every buffer and the next request parses the same") {
  request_parser p;
  const std::string all = post();
  const outcome first = drive(p, {all});
  REQUIRE(first.messages.size() == 1);
  CHECK(p.held_bytes() > post_body.size());  // head copy and body kept warm by next()
  p.shrink();
  CHECK(p.held_bytes() == 0);
  CHECK(drive(p, {all}) == first);
  // Inside a request it changes nothing: the request goes on.
  std::span<const char> rest = as_span(all);
  feed_result r = p.feed(rest.subspan(0, 30));
  REQUIRE(r.ev == event::need_more);
  const std::size_t held = p.held_bytes();
  p.shrink();
  CHECK(p.held_bytes() == held);
  const outcome rest_of_it = drive(p, {std::string_view(all).substr(30)});
  CHECK(rest_of_it.messages == first.messages);
}

TEST_CASE("feeding again after message_complete without next() starts the next request") {
  request_parser p;
  std::string two = post() + post();
  std::span<const char> rest = as_span(two);
  for (int i = 0; i < 2; ++i) {
    feed_result r = p.feed(rest);
    REQUIRE(r.ev == event::head_complete);
    rest = rest.subspan(r.consumed);
    r = p.feed(rest);
    REQUIRE(r.ev == event::message_complete);
    rest = rest.subspan(r.consumed);
  }
  CHECK(rest.empty());
}

TEST_CASE("finish() reports a request cut in the middle") {
  std::string all = post();
  SUBCASE("idle connection") {
    request_parser p;
    CHECK(p.finish().ev == event::need_more);
  }
  SUBCASE("after a complete request") {
    request_parser p;
    outcome o = drive(p, {all});
    CHECK(o.messages.size() == 1);
    CHECK(p.finish().ev == event::need_more);
  }
  SUBCASE("inside the head") {
    request_parser p;
    p.feed(as_span(std::string_view(all).substr(0, 10)));
    feed_result r = p.finish();
    CHECK(r.ev == event::error);
    CHECK(r.error == parse_errc::malformed);
  }
  SUBCASE("inside the body") {
    request_parser p;
    std::string_view v(all);
    feed_result r = p.feed(as_span(v.substr(0, all.size() - 1)));
    REQUIRE(r.ev == event::head_complete);
    r = p.feed(as_span(v.substr(r.consumed, all.size() - 1 - r.consumed)));
    CHECK(r.ev == event::need_more);
    r = p.finish();
    CHECK(r.ev == event::error);
    CHECK(r.error == parse_errc::malformed);
  }
}

TEST_CASE("a moved parser keeps working") {
  request_parser a;
  std::string all = post();
  feed_result r = a.feed(as_span(std::string_view(all).substr(0, 30)));
  CHECK(r.ev == event::need_more);
  request_parser b(std::move(a));
  outcome o = drive(b, {std::string_view(all).substr(30)});
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0].body == post_body);
  request_parser c;
  c = std::move(b);
  CHECK(drive(c, {all}).messages.size() == 1);
}
