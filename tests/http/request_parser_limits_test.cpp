// SPDX-License-Identifier: Apache-2.0
// The parser's bounds and rejections: 431 / 413 / 400 / 505 classification,
// limits exactly at and one past the bound, and random input that must never
// crash, overflow or report consuming bytes it was not given.
#include <doctest/doctest.h>

#include <random>

#include "parser_driver.hpp"

using namespace tg::http;
using namespace tg::http::test;

namespace {

std::span<const char> as_span(std::string_view s) { return {s.data(), s.size()}; }

parse_errc error_of(std::string_view req, parser_limits lim = {}) {
  request_parser p(lim);
  return drive(p, {req}).error;
}

parse_errc error_bytewise(std::string_view req, parser_limits lim = {}) {
  request_parser p(lim);
  return drive(p, bytewise(req)).error;
}

}  // namespace

TEST_CASE("parser answers 431 for a head over max_head_bytes, exactly at the bound it accepts") {
  parser_limits lim;
  lim.max_head_bytes = 256;
  std::string head = "GET /";
  std::string tail = " HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string at_limit = head + std::string(256 - head.size() - tail.size(), 'a') + tail;
  REQUIRE(at_limit.size() == 256);
  std::string over = head + std::string(257 - head.size() - tail.size(), 'a') + tail;

  CHECK(error_of(at_limit, lim) == parse_errc::none);
  CHECK(error_bytewise(at_limit, lim) == parse_errc::none);
  CHECK(error_of(over, lim) == parse_errc::head_too_large);
  CHECK(error_bytewise(over, lim) == parse_errc::head_too_large);

  SUBCASE("a long header value counts too") {
    std::string big = "POST / HTTP/1.1\r\nX-Big: " + std::string(300, 'v') + "\r\n\r\n";
    CHECK(error_of(big, lim) == parse_errc::head_too_large);
  }
  SUBCASE("the bound is per request on a kept-alive connection") {
    std::string twice = at_limit + at_limit;
    request_parser p(lim);
    outcome o = drive(p, {twice});
    CHECK(o.error == parse_errc::none);
    CHECK(o.messages.size() == 2);
  }
  SUBCASE("the error comes without waiting for the end of the head") {
    request_parser p(lim);
    feed_result r = p.feed(as_span(std::string(1000, 'G')));
    CHECK(r.ev == event::error);
    CHECK((r.error == parse_errc::head_too_large || r.error == parse_errc::malformed));
    std::string endless = "GET /" + std::string(1000, 'a');
    request_parser q(lim);
    r = q.feed(as_span(endless));
    CHECK(r.ev == event::error);
    CHECK(r.error == parse_errc::head_too_large);
    CHECK(r.consumed <= 256);
  }
}

TEST_CASE("parser answers 431 for more than max_headers fields") {
  parser_limits lim;
  lim.max_headers = 3;
  std::string three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  std::string four = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
  CHECK(error_of(three, lim) == parse_errc::none);
  CHECK(error_bytewise(three, lim) == parse_errc::none);
  CHECK(error_of(four, lim) == parse_errc::head_too_large);
  CHECK(error_bytewise(four, lim) == parse_errc::head_too_large);
}

TEST_CASE("parser answers 413 from Content-Length before reading the body") {
  parser_limits lim;
  lim.max_body_bytes = 100;
  std::string head = "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n";
  request_parser p(lim);
  feed_result r = p.feed(as_span(head));  // no body byte sent yet
  CHECK(r.ev == event::error);
  CHECK(r.error == parse_errc::body_too_large);
  CHECK(p.feed(as_span(std::string("x"))).error == parse_errc::body_too_large);  // sticky

  std::string exact = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b');
  request_parser q(lim);
  outcome o = drive(q, {exact});
  REQUIRE(o.messages.size() == 1);
  CHECK(o.messages[0].body.size() == 100);

  CHECK(error_of("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", lim) ==
        parse_errc::malformed);  // overflows uint64: llhttp rejects it
  CHECK(error_of("POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", lim) ==
        parse_errc::body_too_large);
}

TEST_CASE("parser answers 413 when a chunked body grows past max_body_bytes") {
  parser_limits lim;
  lim.max_body_bytes = 10;
  std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string ok = head + "5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n";
  std::string over = head + "5\r\n12345\r\n6\r\n678901\r\n0\r\n\r\n";
  CHECK(error_of(ok, lim) == parse_errc::none);
  CHECK(error_of(over, lim) == parse_errc::body_too_large);
  CHECK(error_bytewise(over, lim) == parse_errc::body_too_large);
  CHECK(error_of(head + "FFFFFFFF\r\n", lim) == parse_errc::body_too_large);
}

TEST_CASE("parser rejects malformed requests") {
  struct row {
    std::string what;
    std::string_view req;
  };
  for (row r : {
           row{"garbage", "\x01\x02\x03 nonsense\r\n\r\n"},
           row{"invalid method", "G@T / HTTP/1.1\r\n\r\n"},
           row{"space in target", "GET /a b HTTP/1.1\r\n\r\n"},
           row{"control char in target", "GET /a\x7f HTTP/1.1\r\n\r\n"},
           row{"space in header name", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"},
           row{"space before colon", "POST / HTTP/1.1\r\nContent-Length : 1\r\n\r\nx"},
           row{"separator in header name", "GET / HTTP/1.1\r\nA(b): x\r\n\r\n"},
           row{"control char in header value", "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"},
           row{"header without colon", "GET / HTTP/1.1\r\nNoColon\r\n\r\n"},
           row{"non-numeric Content-Length", "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n"},
           row{"negative Content-Length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"},
           row{"two Content-Lengths", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx"},
           row{"Content-Length and chunked",
               "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
           row{"Transfer-Encoding not ending in chunked",
               "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
           row{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"},
           row{"chunk data longer than its size",
               "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"},
           row{"garbage version", "GET / HTTP/x.y\r\n\r\n"},
           row{"lowercase protocol", "GET / http/1.1\r\n\r\n"},
       }) {
    CAPTURE(r.what);
    CHECK(error_of(r.req) == parse_errc::malformed);
    CHECK(error_bytewise(r.req) == parse_errc::malformed);
  }
}

TEST_CASE("bare LF line endings: llhttp's default takes them in the request line, not in headers") {
  // Recorded so that a change in llhttp's behaviour is noticed.
  CHECK(drive_whole("GET /x HTTP/1.1\n\n").messages.size() == 1);
  CHECK(error_of("POST /x HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi") == parse_errc::malformed);
  CHECK(error_bytewise("POST /x HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi") == parse_errc::malformed);
}

TEST_CASE("parser answers 505 for HTTP versions other than 1.0 and 1.1") {
  for (std::string_view req : {"GET / HTTP/2.0\r\n\r\n", "GET / HTTP/3.0\r\n\r\n", "GET / HTTP/1.2\r\n\r\n",
                               "GET / HTTP/0.9\r\n\r\n"}) {
    CAPTURE(req);
    CHECK(error_of(req) == parse_errc::version_unsupported);
    CHECK(error_bytewise(req) == parse_errc::version_unsupported);
  }
}

TEST_CASE("the HTTP/2 connection preface is told apart, whole or byte by byte") {
  const std::string_view preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  CHECK(error_of(preface) == parse_errc::h2_preface);
  CHECK(error_bytewise(preface) == parse_errc::h2_preface);
  // The preface followed by the client's SETTINGS frame, as h2 clients send it.
  CHECK(error_of(std::string(preface) + std::string("\0\0\0\x04\0\0\0\0\0", 9)) == parse_errc::h2_preface);
}

TEST_CASE("errors are sticky until reset()") {
  request_parser p;
  feed_result r = p.feed(as_span(std::string_view("BAD\x01 / HTTP/1.1\r\n\r\n")));
  CHECK(r.ev == event::error);
  r = p.feed(as_span(std::string_view("GET / HTTP/1.1\r\n\r\n")));
  CHECK(r.ev == event::error);
  CHECK(r.consumed == 0);
  CHECK(p.finish().ev == event::error);
  p.reset();
  CHECK(drive(p, {"GET / HTTP/1.1\r\n\r\n"}).messages.size() == 1);
}

TEST_CASE("random bytes, truncations and mutations never crash the parser") {
  std::mt19937_64 rng(20240601);
  const std::string valid[] = {
      "POST /api/v1/events HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "Content-Length: 11\r\n\r\n{\"a\":\"b c\"}",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n",
      "GET /readyz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  };
  parser_limits lim;
  lim.max_head_bytes = 128;
  lim.max_headers = 4;
  lim.max_body_bytes = 32;
  auto random_split = [&](std::string_view s) {
    std::vector<std::string_view> pieces;
    while (!s.empty()) {
      std::size_t n = std::min<std::size_t>(s.size(), 1 + rng() % 17);
      pieces.push_back(s.substr(0, n));
      s.remove_prefix(n);
    }
    return pieces;
  };
  for (int iter = 0; iter < 20000; ++iter) {
    std::string input;
    switch (iter % 4) {
      case 0: {  // pure noise, biased towards HTTP-ish bytes
        static constexpr char alphabet[] = "GETPOST /HTP1.0\r\n:;-0123456789abcdefxX\t \x00\x7f\xff";
        std::size_t n = rng() % 300;
        for (std::size_t i = 0; i < n; ++i) input.push_back(alphabet[rng() % (sizeof alphabet - 1)]);
        break;
      }
      case 1: {  // truncation of a valid pipeline
        std::string all = valid[0] + valid[1] + valid[2];
        input = all.substr(0, rng() % (all.size() + 1));
        break;
      }
      default: {  // byte mutations of valid requests
        input = valid[rng() % 3] + valid[rng() % 3];
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) input[rng() % input.size()] = static_cast<char>(rng());
        break;
      }
    }
    request_parser p(lim);
    outcome o = drive(p, random_split(input));  // throws if consumed is ever wrong
    for (const parsed& m : o.messages) CHECK(m.body.size() <= lim.max_body_bytes);
    feed_result f = p.finish();
    CHECK(f.ev != event::head_complete);
    CHECK(f.ev != event::message_complete);
  }
}
