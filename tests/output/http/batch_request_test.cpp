// SPDX-License-Identifier: Apache-2.0
// A batch request carries the events' bytes exactly, joined into a JSON array,
// with a Content-Length that matches the body.
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
}  // namespace

TEST_CASE("batch request joins the records between two positions into a JSON array") {
  ring::event_ring r(1 << 16);
  const std::uint64_t begin = r.read_begin();
  put(r, "{\"id\":\"a\"}");
  const std::uint64_t mid = put(r, "{ \"id\" : \"b\" }");
  const std::uint64_t end = put(r, "{\"id\":\"c\"}");
  std::string out;
  CHECK(upstream::build_batch_request(r, begin, end, "POST /x HTTP/1.1\r\nContent-Length: ", out) == 3);
  const std::string body = "[{\"id\":\"a\"},{ \"id\" : \"b\" },{\"id\":\"c\"}]";
  CHECK(out == "POST /x HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);

  CHECK(upstream::build_batch_request(r, mid, end, "H: ", out) == 1);
  CHECK(out == "H: 12\r\n\r\n[{\"id\":\"c\"}]");
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
  std::string out;
  CHECK(upstream::build_batch_request(r, begin, end, "", out) == 2);
  const std::string body = "[{\"id\":\"1\",\"pad\":\"" + big + "\"},{\"id\":\"2\",\"pad\":\"" + big + "\"}]";
  CHECK(out == std::to_string(body.size()) + "\r\n\r\n" + body);
}
