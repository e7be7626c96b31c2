// SPDX-License-Identifier: Apache-2.0
// Behaviour of the streaming response reader the pass-through uses: the head
// with every header, the body decoded piece by piece at every split, bodiless
// answers (HEAD, 204, 304), skipped 1xx, a body ended by close, keep-alive,
// and its bounds.
#include <doctest/doctest.h>

#include <string>

#include "tollgate/http/response_stream.hpp"

using namespace tg::http;

namespace {

struct outcome {
  int status = 0;
  std::string reason;
  std::string headers;  // "name=value;" for each
  std::string body;
  bool complete = false;
  bool keep_alive = false;
  bool error = false;
};

// Feeds `wire` in pieces of `step` bytes (re-feeding what was not consumed).
outcome run(const std::string& wire, std::size_t step, bool head_request = false, bool close_at_end = false) {
  response_stream rs;
  rs.start(head_request);
  outcome o;
  bool head_seen = false;
  std::size_t off = 0;
  std::string pending;
  bool more = false;  // the last feed stopped at an event: feed again, even with no bytes
  while (!o.complete && !o.error) {
    if (pending.empty() && off >= wire.size() && !more) {
      if (!close_at_end) break;
      const stream_result r = rs.finish(o.body);
      o.complete = r.ev == stream_event::message_complete;
      o.error = r.ev == stream_event::error;
      break;
    }
    if (pending.empty() && off < wire.size()) {
      pending = wire.substr(off, step);
      off += pending.size();
    }
    const stream_result r = rs.feed({pending.data(), pending.size()}, o.body);
    pending.erase(0, r.consumed);
    more = r.ev != stream_event::need_more;
    if (r.ev == stream_event::head_complete) {
      REQUIRE_FALSE(head_seen);
      CHECK(o.body.empty());  // no body byte before the head is taken
      head_seen = true;
      o.status = rs.head().status;
      o.reason = std::string(rs.head().reason);
      for (const auto& [k, v] : rs.head().headers) o.headers += std::string(k) + "=" + std::string(v) + ";";
    } else if (r.ev == stream_event::message_complete) {
      REQUIRE(head_seen);
      o.complete = true;
      o.keep_alive = rs.keep_alive();
    } else if (r.ev == stream_event::error) {
      o.error = true;
    }
  }
  return o;
}

}  // namespace

TEST_CASE("response_stream gives the head with every header, then the body, at every split") {
  const std::string wire =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A:  one \r\nX-A: two\r\nContent-Length: 11\r\n\r\n"
      "{\"ok\":true}";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    CAPTURE(step);
    const outcome o = run(wire, step);
    CHECK(o.status == 200);
    CHECK(o.reason == "OK");
    CHECK(o.headers == "Content-Type=application/json;X-A=one;X-A=two;Content-Length=11;");
    CHECK(o.body == "{\"ok\":true}");
    CHECK(o.complete);
    CHECK(o.keep_alive);
  }
}

TEST_CASE("response_stream decodes a chunked body and skips trailers") {
  const std::string wire =
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
  for (std::size_t step : {1, 3, 7, 100}) {
    const outcome o = run(wire, step);
    CHECK(o.status == 201);
    CHECK(o.body == "hello world");
    CHECK(o.complete);
    CHECK(o.headers == "Transfer-Encoding=chunked;");
  }
}

TEST_CASE("response_stream: HEAD, 204 and 304 end at their head whatever Content-Length says") {
  const outcome head = run("HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n", 5, true);
  CHECK(head.complete);
  CHECK(head.body.empty());
  CHECK(head.headers == "Content-Length=2048;");
  const outcome nc = run("HTTP/1.1 204 No Content\r\n\r\n", 4);
  CHECK(nc.status == 204);
  CHECK(nc.complete);
  const outcome nm = run("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 100);
  CHECK(nm.status == 304);
  CHECK(nm.complete);
  CHECK(nm.body.empty());
}

TEST_CASE("response_stream skips 100 Continue and refuses 101") {
  const outcome o = run("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 3);
  CHECK(o.status == 200);
  CHECK(o.body == "hi");
  CHECK(o.complete);
  CHECK(run("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 100).error);
}

TEST_CASE("response_stream ends a body without length at the close, and says the connection is done") {
  const outcome o = run("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", 4, false, true);
  CHECK(o.complete);
  CHECK(o.body == "all of it");
  CHECK_FALSE(o.keep_alive);
  const outcome cut = run("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 100, false, true);
  CHECK(cut.error);
  CHECK_FALSE(cut.complete);
}

TEST_CASE("response_stream: Connection close and HTTP/1.0 mean no keep-alive") {
  CHECK_FALSE(run("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 100).keep_alive);
  CHECK_FALSE(run("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 100).keep_alive);
  CHECK(run("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100).keep_alive);
}

TEST_CASE("response_stream refuses a head over its bounds and malformed responses") {
  std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  CHECK(run(big, 4096).error);
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 101; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(run(many + "Content-Length: 0\r\n\r\n", 100).error);
  CHECK(run("NOT HTTP\r\n\r\n", 100).error);
}

TEST_CASE("response_stream reads the next response after start() on the same connection") {
  response_stream rs;
  std::string body;
  const std::string one = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
  for (int round = 0; round < 3; ++round) {
    rs.start(false);
    body.clear();
    std::size_t off = 0;
    stream_result r = rs.feed({one.data(), one.size()}, body);
    CHECK(r.ev == stream_event::head_complete);
    off += r.consumed;
    r = rs.feed({one.data() + off, one.size() - off}, body);
    CHECK(r.ev == stream_event::message_complete);
    CHECK(body == "a");
  }
}
