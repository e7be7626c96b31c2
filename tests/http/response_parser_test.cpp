// SPDX-License-Identifier: Apache-2.0
// Behaviour of the HTTP/1.1 response parser: framing by Content-Length,
// chunked and EOF, bodiless statuses, skipped 100 Continue, pipelined
// responses with exact consumed counts at every split, Retry-After, bounds,
// and errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tollgate/http/response_parser.hpp"

using namespace tg::http;
using namespace std::string_view_literals;

namespace {

std::span<const char> as_span(std::string_view s) { return {s.data(), s.size()}; }

struct seen {
  int status;
  bool keep_alive;
  std::string body;
  std::string retry_after;
  bool operator==(const seen&) const = default;
};

}  // namespace

namespace doctest {
template <>
struct StringMaker<std::vector<seen>> {
  static String convert(const std::vector<seen>& v) {
    std::string out;
    for (const seen& s : v) {
      out += '[';
      out += std::to_string(s.status);
      out += s.keep_alive ? " ka body=" : " close body=";
      out += s.body;
      out += " retry=";
      out += s.retry_after;
      out += ']';
    }
    return out.c_str();
  }
};
}  // namespace doctest

namespace {

// Feeds `wire` in pieces cut at `cuts`, re-feeding unconsumed bytes as a
// caller would, and collects every complete response. Fails on an error.
std::vector<seen> drive(std::string_view wire, const std::vector<std::size_t>& cuts, response_parser& p) {
  std::vector<seen> out;
  std::string pending;
  std::size_t prev = 0;
  auto run = [&](std::string_view piece) {
    pending.append(piece);
    std::size_t off = 0;
    for (;;) {
      response_feed_result r = p.feed(as_span(std::string_view(pending).substr(off)));
      REQUIRE(r.ev != response_event::error);
      off += r.consumed;
      if (r.ev == response_event::need_more) {
        REQUIRE(off == pending.size());
        break;
      }
      const response& x = p.current();
      out.push_back({x.status, x.keep_alive, std::string(x.body), std::string(x.retry_after)});
      p.next();
    }
    pending.erase(0, off);
  };
  for (std::size_t c : cuts) {
    run(wire.substr(prev, c - prev));
    prev = c;
  }
  run(wire.substr(prev));
  return out;
}

std::vector<seen> drive_whole(std::string_view wire) {
  response_parser p;
  return drive(wire, {}, p);
}

constexpr std::string_view pipelined =
    "HTTP/1.1 204 No Content\r\n\r\n"
    "HTTP/1.1 100 Continue\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    "HTTP/1.1 429 Too Many Requests\r\nRetry-After:  7 \r\nContent-Type: application/problem+json\r\n"
    "Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

const std::vector<seen> pipelined_expected = {
    {204, true, "", ""},      {200, true, "hello", ""}, {429, true, "abcde", "7"},
    {304, true, "", ""},      {503, false, "", ""},
};

}  // namespace

TEST_CASE("a 204 completes right after its head with an exact consumed count") {
  response_parser p;
  constexpr auto wire = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 2"sv;
  response_feed_result r = p.feed(as_span(wire));
  CHECK(r.ev == response_event::response_complete);
  CHECK(r.consumed == wire.rfind("HTTP/1.1 2"));
  CHECK(p.current().status == 204);
  CHECK(p.current().keep_alive);
  CHECK_FALSE(p.current().has_content_length);
  CHECK(p.current().body.empty());
  CHECK_FALSE(p.in_response());
  p.next();
  r = p.feed(as_span(wire.substr(r.consumed)));
  CHECK(r.ev == response_event::need_more);
  CHECK(p.in_response());
}

TEST_CASE("pipelined responses come out one at a time, in order") {
  CHECK(drive_whole(pipelined) == pipelined_expected);
}

TEST_CASE("response parser gives identical results at every split point") {
  for (std::size_t cut = 0; cut <= pipelined.size(); ++cut) {
    CAPTURE(cut);
    response_parser p;
    CHECK(drive(pipelined, {cut}, p) == pipelined_expected);
  }
}

TEST_CASE("response parser gives identical results byte by byte") {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < pipelined.size(); ++i) cuts.push_back(i);
  response_parser p;
  CHECK(drive(pipelined, cuts, p) == pipelined_expected);
}

TEST_CASE("100 Continue is skipped, even alone in a feed") {
  response_parser p;
  response_feed_result r = p.feed(as_span("HTTP/1.1 100 Continue\r\n\r\n"sv));
  CHECK(r.ev == response_event::need_more);
  CHECK(r.consumed == 25);
  r = p.feed(as_span("HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok"sv));
  CHECK(r.ev == response_event::response_complete);
  CHECK(p.current().status == 202);
  CHECK(p.current().body == "ok");
}

TEST_CASE("framing details are reported") {
  response_parser p;
  response_feed_result r = p.feed(as_span("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"sv));
  REQUIRE(r.ev == response_event::response_complete);
  const response& x = p.current();
  CHECK(x.version_major == 1);
  CHECK(x.version_minor == 0);
  CHECK_FALSE(x.keep_alive);  // HTTP/1.0 without keep-alive
  CHECK(x.has_content_length);
  CHECK(x.content_length == 3);
  CHECK(x.body_bytes == 3);
  CHECK_FALSE(x.chunked);

  response_parser q;
  r = q.feed(as_span("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"sv));
  REQUIRE(r.ev == response_event::response_complete);
  CHECK(q.current().chunked);
  CHECK(q.current().body == "x");
}

TEST_CASE("a body ended by the connection close completes in finish()") {
  response_parser p;
  response_feed_result r = p.feed(as_span("HTTP/1.1 200 OK\r\n\r\npartial body"sv));
  CHECK(r.ev == response_event::need_more);
  CHECK(p.in_response());
  r = p.finish();
  CHECK(r.ev == response_event::response_complete);
  CHECK(p.current().body == "partial body");
  CHECK_FALSE(p.current().keep_alive);
}

TEST_CASE("finish() reports a response cut in the middle, and nothing between responses") {
  SUBCASE("in the head") {
    response_parser p;
    p.feed(as_span("HTTP/1.1 204 No"sv));
    CHECK(p.finish().ev == response_event::error);
  }
  SUBCASE("in a Content-Length body") {
    response_parser p;
    p.feed(as_span("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"sv));
    response_feed_result r = p.finish();
    CHECK(r.ev == response_event::error);
    CHECK(r.error == response_errc::malformed);
  }
  SUBCASE("between responses") {
    response_parser p;
    REQUIRE(p.feed(as_span("HTTP/1.1 204 No Content\r\n\r\n"sv)).ev == response_event::response_complete);
    p.next();
    CHECK(p.finish().ev == response_event::need_more);
  }
}

TEST_CASE("Retry-After is found case-insensitively, trimmed, and only in the head") {
  CHECK(drive_whole("HTTP/1.1 503 x\r\nRETRY-after: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n") ==
        std::vector<seen>{{503, true, "", "Wed, 21 Oct 2015 07:28:00 GMT"}});
  // A trailer named Retry-After is ignored; an over-long value is not kept.
  response_parser p;
  response_feed_result r = p.feed(as_span(
      "HTTP/1.1 429 x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nRetry-After: 5\r\n\r\n"sv));
  REQUIRE(r.ev == response_event::response_complete);
  CHECK_FALSE(p.current().has_retry_after);
  p.next();
  std::string wire = "HTTP/1.1 429 x\r\nRetry-After: " + std::string(max_retry_after_bytes + 1, '1') +
                     "\r\nContent-Length: 0\r\n\r\n";
  REQUIRE(p.feed(as_span(wire)).ev == response_event::response_complete);
  CHECK_FALSE(p.current().has_retry_after);
}

TEST_CASE("a body over max_body_bytes is framed whole but kept truncated") {
  response_limits lim;
  lim.max_body_bytes = 4;
  response_parser p(lim);
  constexpr auto wire = "HTTP/1.1 400 Bad\r\nContent-Length: 10\r\n\r\n0123456789HTTP/1.1 204 x\r\n\r\n"sv;
  response_feed_result r = p.feed(as_span(wire));
  REQUIRE(r.ev == response_event::response_complete);
  CHECK(r.consumed == wire.rfind("HTTP/1.1 204"));
  CHECK(p.current().body == "0123");
  CHECK(p.current().body_bytes == 10);
  CHECK(p.current().body_truncated);
  p.next();
  r = p.feed(as_span(wire.substr(r.consumed)));
  CHECK(r.ev == response_event::response_complete);
  CHECK(p.current().status == 204);
  CHECK_FALSE(p.current().body_truncated);

  lim.keep_body = false;
  response_parser q(lim);
  REQUIRE(q.feed(as_span(wire)).ev == response_event::response_complete);
  CHECK(q.current().body.empty());
  CHECK(q.current().body_bytes == 10);
}

TEST_CASE("response parser rejects malformed input, and errors are sticky until reset") {
  const std::string_view bad[] = {
      "HTTP/1.1 abc OK\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"sv,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"sv,
      "GET / HTTP/1.1\r\n\r\n"sv,
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"sv,
      "HTTP/1.1 101 Switching Protocols\r\n\r\n"sv,
  };
  for (std::string_view w : bad) {
    CAPTURE(w);
    response_parser p;
    response_feed_result r = p.feed(as_span(w));
    CHECK(r.ev == response_event::error);
    CHECK(r.error == response_errc::malformed);
    CHECK(p.feed(as_span("HTTP/1.1 204 x\r\n\r\n"sv)).ev == response_event::error);
    p.reset();
    CHECK(p.feed(as_span("HTTP/1.1 204 x\r\n\r\n"sv)).ev == response_event::response_complete);
  }
}

TEST_CASE("response parser bounds the head by bytes and by header count") {
  response_limits lim;
  lim.max_head_bytes = 64;
  lim.max_headers = 3;
  {
    response_parser p(lim);
    std::string wire = "HTTP/1.1 204 x\r\nX-Long: " + std::string(60, 'a') + "\r\n\r\n";
    response_feed_result r = p.feed(as_span(wire));
    CHECK(r.ev == response_event::error);
    CHECK(r.error == response_errc::head_too_large);
  }
  {
    // The bound holds however the head is fragmented.
    response_parser p(lim);
    std::string wire = "HTTP/1.1 204 x\r\nX-Long: " + std::string(60, 'a') + "\r\n\r\n";
    response_feed_result r{};
    for (std::size_t i = 0; i < wire.size() && r.ev == response_event::need_more; ++i)
      r = p.feed(as_span(std::string_view(wire).substr(i, 1)));
    CHECK(r.ev == response_event::error);
    CHECK(r.error == response_errc::head_too_large);
  }
  {
    response_parser p(lim);
    response_feed_result r = p.feed(as_span("HTTP/1.1 204 x\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"sv));
    CHECK(r.ev == response_event::error);
    CHECK(r.error == response_errc::head_too_large);
  }
  {
    // A head within the bounds, followed by a long body, is fine: only the head counts.
    response_parser p(lim);
    std::string wire = "HTTP/1.1 200 x\r\nContent-Length: 200\r\n\r\n" + std::string(200, 'b');
    response_feed_result r = p.feed(as_span(wire));
    CHECK(r.ev == response_event::response_complete);
    CHECK(r.consumed == wire.size());
    CHECK(p.current().body_bytes == 200);
  }
}

TEST_CASE("a moved response parser keeps working") {
  response_parser a;
  a.feed(as_span("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"sv));
  response_parser b(std::move(a));
  response_feed_result r = b.feed(as_span("hi"sv));
  CHECK(r.ev == response_event::response_complete);
  CHECK(b.current().body == "hi");
}

namespace {

// The error (none when the bytes parse) after feeding `wire` in two pieces.
response_errc error_when_split(std::string_view wire, std::size_t cut, const response_limits& lim) {
  response_parser p(lim);
  for (std::string_view piece : {wire.substr(0, cut), wire.substr(cut)}) {
    while (true) {
      const response_feed_result r = p.feed(as_span(piece));
      if (r.ev == response_event::error) return r.error;
      piece.remove_prefix(r.consumed);
      if (r.ev == response_event::response_complete) p.next();
      if (r.ev == response_event::need_more) break;
    }
  }
  return response_errc::none;
}

}  // namespace

TEST_CASE("response parser judges a header count at the name's colon, whatever the split (issue 16)") {
  response_limits lim;
  lim.max_headers = 2;
  // Found by tests/fuzz (corpus/response_parser/regress-count-in-split-name):
  // a third name without a colon is malformed, also when a feed ends inside it.
  const std::string_view bad = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nCcc\r\n\r\n";
  const std::string_view over = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n";
  for (std::size_t cut = 0; cut <= bad.size(); ++cut) {
    CAPTURE(cut);
    CHECK(error_when_split(bad, cut, lim) == response_errc::malformed);
  }
  for (std::size_t cut = 0; cut <= over.size(); ++cut) {
    CAPTURE(cut);
    CHECK(error_when_split(over, cut, lim) == response_errc::head_too_large);
  }
}
