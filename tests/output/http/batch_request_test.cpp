// SPDX-License-Identifier: Apache-2.0
// A batch request carries the events' bytes exactly, joined into a JSON array,
// with a Content-Length that matches the body; its pieces point into the ring,
// and a send that stops anywhere resumes at the very next byte.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tollgate/output/http/batch_request.hpp"

using namespace tg;

namespace {
std::uint64_t put(ring::event_ring& r, const std::string& s) {
  char* p = r.try_reserve(s.size());
  REQUIRE(p != nullptr);
  std::memcpy(p, s.data(), s.size());
  r.commit();
  return r.committed_end();
}

// What a gather write of the request's remaining pieces would put on the wire.
std::string joined(upstream::gather_request& g) {
  std::string out;
  for (const iovec& v : g.rest()) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
  return out;
}

bool points_into(const ring::event_ring& r, std::uint64_t begin, std::uint64_t end, const iovec& v) {
  ring::event_ring::record rec;
  for (std::uint64_t pos = begin; pos != end && r.read(pos, rec); pos = rec.next) {
    if (v.iov_base == rec.bytes.data() && v.iov_len == rec.bytes.size()) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("batch request joins the records between two positions into a JSON array") {
  ring::event_ring r(1 << 16);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"a\"}");
  const std::uint64_t mid = put(r, "{ \"id\" : \"b\" }");
  const std::uint64_t end = put(r, "{\"id\":\"c\"}");
  upstream::gather_request g;
  CHECK(g.build(r, begin, end, "POST /x HTTP/1.1\r\nContent-Length: ") == 3);
  const std::string body = "[{\"id\":\"a\"},{ \"id\" : \"b\" },{\"id\":\"c\"}]";
  const std::string want = "POST /x HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  CHECK(joined(g) == want);
  CHECK(g.bytes() == want.size());
  CHECK(g.bytes_left() == want.size());

  CHECK(g.build(r, mid, end, "H: ") == 1);
  CHECK(joined(g) == "H: 12\r\n\r\n[{\"id\":\"c\"}]");
}

TEST_CASE("batch request takes the body size the batcher measured instead of measuring again") {
  ring::event_ring r(1 << 16);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"a\"}");
  const std::uint64_t end = put(r, "{\"id\":\"b\"}");
  upstream::gather_request g;
  CHECK(g.build(r, begin, end, "L: ", 23) == 2);
  CHECK(joined(g) == "L: 23\r\n\r\n[{\"id\":\"a\"},{\"id\":\"b\"}]");
}

TEST_CASE("batch request sends the events from the ring, not from a copy") {
  ring::event_ring r(1 << 16);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"a\"}");
  const std::uint64_t end = put(r, "{\"id\":\"b\"}");
  upstream::gather_request g;
  REQUIRE(g.build(r, begin, end, "H: ") == 2);
  const auto pieces = g.rest();
  REQUIRE(pieces.size() == 5);  // head + "[", a, ",", b, "]"
  CHECK(points_into(r, begin, end, pieces[1]));
  CHECK(points_into(r, begin, end, pieces[3]));
}

TEST_CASE("batch request resumes a short send at the next byte, across pieces and inside one") {
  ring::event_ring r(1 << 16);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"first\"}");
  put(r, "{\"id\":\"second\"}");
  const std::uint64_t end = put(r, "{\"id\":\"third\"}");
  upstream::gather_request g;
  REQUIRE(g.build(r, begin, end, "POST / HTTP/1.1\r\nContent-Length: ") == 3);
  const std::string whole = joined(g);
  std::size_t sent = 0;
  // Steps that stop inside the head, on a piece boundary, inside an event,
  // on a separator, and at the very end.
  for (std::size_t step : {5u, 30u, 9u, 1u, 17u, 3u, 0u}) {
    step = std::min(step, g.bytes_left());
    g.advance(step);
    sent += step;
    CHECK(joined(g) == whole.substr(sent));
    CHECK(g.bytes_left() == whole.size() - sent);
  }
  g.advance(g.bytes_left());
  CHECK(g.done());
  CHECK(g.rest().empty());
}

TEST_CASE("batch request across the ring's wrap-around keeps every record whole") {
  ring::event_ring r(4096);
  std::string big(1200, 'x');
  put(r, "{\"pad\":\"" + big + "\"}");
  put(r, "{\"pad\":\"" + big + "\"}");
  // Free the first two so the next records wrap to the start of the buffer.
  ring::event_ring::record rec;
  std::uint64_t pos = r.read_begin();
  REQUIRE(r.read(pos, rec));
  REQUIRE(r.read(rec.next, rec));
  r.release(rec.next);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"1\",\"pad\":\"" + big + "\"}");
  const std::uint64_t end = put(r, "{\"id\":\"2\",\"pad\":\"" + big + "\"}");
  upstream::gather_request g;
  CHECK(g.build(r, begin, end, "") == 2);
  const std::string body = "[{\"id\":\"1\",\"pad\":\"" + big + "\"},{\"id\":\"2\",\"pad\":\"" + big + "\"}]";
  CHECK(joined(g) == std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST_CASE("batch request joined into one buffer is the same bytes as its pieces, and resumes the same way") {
  ring::event_ring r(1 << 16);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"x\"}");
  put(r, "");  // an empty record still gets its separator
  const std::uint64_t end = put(r, "{\"id\":\"y\"}");
  upstream::gather_request as_pieces;
  upstream::gather_request as_one;
  REQUIRE(as_pieces.build(r, begin, end, "P: ") == 3);
  REQUIRE(as_one.build_joined(r, begin, end, "P: ") == 3);
  const std::string whole = joined(as_pieces);
  CHECK(whole == "P: 24\r\n\r\n[{\"id\":\"x\"},,{\"id\":\"y\"}]");
  CHECK(as_one.rest().size() == 1);
  CHECK(joined(as_one) == whole);
  CHECK(as_one.bytes() == whole.size());
  as_one.advance(7);
  as_pieces.advance(7);
  CHECK(joined(as_one) == whole.substr(7));
  CHECK(joined(as_pieces) == whole.substr(7));
  // Building again replaces the request, from the first byte.
  REQUIRE(as_one.build_joined(r, begin, end, "P: ") == 3);
  CHECK(joined(as_one) == whole);
}

TEST_CASE("batch request of no records is an empty JSON array") {
  ring::event_ring r(4096);
  upstream::gather_request g;
  CHECK(g.build(r, r.read_begin(), r.read_begin(), "L: ") == 0);
  CHECK(joined(g) == "L: 2\r\n\r\n[]");
}
