// SPDX-License-Identifier: Apache-2.0
// feed_lent(): a Content-Length body that arrives whole with the bytes the
// caller lends is used where it lies (no copy); every other body, and every
// body the caller keeps past the loan, is the parser's own. The outcome never
// depends on which: every split is checked against plain feed().
#include <doctest/doctest.h>

#include <string>

#include "parser_driver.hpp"

using namespace tg::http;
using namespace tg::http::test;

namespace {

std::string post(std::string_view body, std::string_view extra = "") {
  return "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + std::string(extra) +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// Bytes to lend, with body_padding readable bytes after them.
struct lent_input {
  std::string buf;
  explicit lent_input(std::string_view bytes) : buf(bytes) { buf.append(body_padding, 'x'); }
  std::span<const char> bytes() const { return {buf.data(), buf.size() - body_padding}; }
  bool holds(std::string_view v) const {
    return v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size() - body_padding;
  }
};

// Feeds lent bytes past the head event; returns the next event.
feed_result feed_to_end(request_parser& p, std::span<const char>& rest) {
  for (;;) {
    const feed_result r = p.feed_lent(rest);
    rest = rest.subspan(r.consumed);
    if (r.ev != event::head_complete) return r;
  }
}

}  // namespace

TEST_CASE("a body that arrives whole with its head in lent bytes is not copied") {
  const std::string body = R"({"id":"1","source":"s","specversion":"1.0","type":"t","subject":"u","data":")" +
                           std::string(4000, 'd') + "\"}";
  const lent_input in(post(body));
  request_parser p;
  std::span<const char> rest = in.bytes();
  REQUIRE(feed_to_end(p, rest).ev == event::message_complete);
  CHECK(rest.empty());
  CHECK(p.body_lent());
  CHECK(p.current().body == body);
  CHECK(in.holds(p.current().body));
  // No buffer was grown for it: the parser holds only its head's.
  CHECK(p.held_bytes() < 1024);
}

TEST_CASE("a kept lent body is the parser's own and outlives the loan") {
  const std::string body = "[" + std::string(3000, ' ') + "]";
  std::string bytes = post(body);
  lent_input in(bytes);
  request_parser p;
  std::span<const char> rest = in.bytes();
  REQUIRE(feed_to_end(p, rest).ev == event::message_complete);
  REQUIRE(p.body_lent());
  p.keep_body();
  CHECK_FALSE(p.body_lent());
  CHECK_FALSE(in.holds(p.current().body));
  in.buf.assign(in.buf.size(), '#');  // the loan ends
  CHECK(p.current().body == body);
  // Zeroed padding follows the kept body, as after feed().
  const char* end = p.current().body.data() + p.current().body.size();
  CHECK(std::string_view(end, body_padding) == std::string(body_padding, '\0'));
  p.keep_body();  // a second call changes nothing
  CHECK(p.current().body == body);
}

TEST_CASE("a body split over two lent feeds is copied, and the first loan is not kept") {
  const std::string body = R"({"a":"0123456789"})";
  const std::string bytes = post(body);
  const std::size_t cut = bytes.size() - 5;
  request_parser p;
  lent_input first(bytes.substr(0, cut));
  std::span<const char> rest = first.bytes();
  CHECK(feed_to_end(p, rest).ev == event::need_more);
  CHECK_FALSE(p.body_lent());
  first.buf.assign(first.buf.size(), '#');
  lent_input second(bytes.substr(cut));
  rest = second.bytes();
  REQUIRE(feed_to_end(p, rest).ev == event::message_complete);
  CHECK_FALSE(p.body_lent());
  CHECK(p.current().body == body);
}

TEST_CASE("pipelined requests in one lent buffer each get their own body, in order") {
  const std::string a = R"({"n":1})", b = R"([{"n":2},{"n":3}])", c = "{}";
  const lent_input in(post(a) + post(b, "Connection: keep-alive\r\n") + post(c));
  request_parser p;
  std::span<const char> rest = in.bytes();
  for (const std::string& want : {a, b, c}) {
    CAPTURE(want);
    REQUIRE(feed_to_end(p, rest).ev == event::message_complete);
    CHECK(p.body_lent());
    CHECK(p.current().body == want);
    CHECK(in.holds(p.current().body));
    p.next();
    CHECK_FALSE(p.body_lent());
  }
  CHECK(rest.empty());
}

TEST_CASE("chunked bodies and bodies fed by feed() are never lent") {
  const lent_input chunked("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  request_parser p;
  std::span<const char> rest = chunked.bytes();
  REQUIRE(feed_to_end(p, rest).ev == event::message_complete);
  CHECK_FALSE(p.body_lent());
  CHECK(p.current().body == "hello");

  const std::string bytes = post("{}");
  request_parser q;
  std::span<const char> all(bytes.data(), bytes.size());
  feed_result r = q.feed(all);
  REQUIRE(r.ev == event::head_complete);
  r = q.feed(all.subspan(r.consumed));
  REQUIRE(r.ev == event::message_complete);
  CHECK_FALSE(q.body_lent());
}

TEST_CASE("a request the caller refuses lets go of the lent body") {
  const lent_input in(post("{}"));
  request_parser p;
  std::span<const char> rest = in.bytes();
  REQUIRE(feed_to_end(p, rest).ev == event::message_complete);
  REQUIRE(p.body_lent());
  p.reset();
  CHECK_FALSE(p.body_lent());
}

TEST_CASE("lent or copied, every split gives the same requests") {
  const std::string input = post(R"({"id":"1"})") + post("") + post(std::string(700, 'z')) +
                            "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
                            post("[1,2]", "Connection: close\r\n");
  request_parser whole_parser;
  const outcome whole = drive(whole_parser, {input});
  REQUIRE(whole.messages.size() == 5);
  for (const feeding how : {feeding::lend, feeding::lend_keep}) {
    CAPTURE(static_cast<int>(how));
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      CAPTURE(cut);
      request_parser p;
      REQUIRE(drive(p, {std::string_view(input).substr(0, cut), std::string_view(input).substr(cut)}, false, how) ==
              whole);
    }
    request_parser p;
    REQUIRE(drive(p, bytewise(input), false, how) == whole);
  }
}
