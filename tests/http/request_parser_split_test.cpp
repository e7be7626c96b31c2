// SPDX-License-Identifier: Apache-2.0
// One verdict whatever the split (issue 16): the same bytes, fed whole, in two
// pieces at every split point and byte by byte, give the same requests and the
// same error. Bounds used to be checked on the partial spans llhttp hands over
// at the end of each feed, so a split could turn a 400 into a 431.
#include <doctest/doctest.h>

#include <random>

#include "parser_driver.hpp"

using namespace tg::http;
using namespace tg::http::test;

namespace {

outcome run(const std::vector<std::string_view>& pieces, parser_limits lim) {
  request_parser p(lim);
  return drive(p, pieces);
}

// Checks every split of `input` against feeding it whole; returns the verdict.
parse_errc one_verdict(std::string_view input, parser_limits lim) {
  const outcome whole = run({input}, lim);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    CAPTURE(cut);
    REQUIRE(run({input.substr(0, cut), input.substr(cut)}, lim) == whole);
  }
  REQUIRE(run(bytewise(input), lim) == whole);
  return whole.error;
}

}  // namespace

TEST_CASE("a header count over the bound is judged at the name's colon, whatever the split") {
  parser_limits lim;
  lim.max_headers = 2;
  // A third field without a colon is malformed before it is a third field.
  CHECK(one_verdict("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nCcccc\r\n\r\n", lim) == parse_errc::malformed);
  CHECK(one_verdict("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nCc\x01: 3\r\n\r\n", lim) == parse_errc::malformed);
  // A complete third field is one too many.
  CHECK(one_verdict("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim) == parse_errc::head_too_large);
  CHECK(one_verdict("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", lim) == parse_errc::none);
}

TEST_CASE("trailers are bounded by raw bytes and counted at each colon, whatever the split") {
  parser_limits lim;
  lim.max_head_bytes = 256;
  lim.max_headers = 2;
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n";
  CHECK(one_verdict(head + "A: 1\r\nB: 2\r\n\r\n", lim) == parse_errc::none);
  CHECK(one_verdict(head + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", lim) == parse_errc::head_too_large);
  CHECK(one_verdict(head + "A: 1\r\nB: 2\r\nC\r\n\r\n", lim) == parse_errc::malformed);
  // A bad byte past the bound is never looked at: 431 however it arrives.
  CHECK(one_verdict(head + "X: " + std::string(300, 'v') + "\x01\r\n\r\n", lim) == parse_errc::head_too_large);
  CHECK(one_verdict(head + std::string(300, 'n') + "\x01: v\r\n\r\n", lim) == parse_errc::head_too_large);
  // Within the bound, the bad byte decides.
  CHECK(one_verdict(head + "X: " + std::string(100, 'v') + "\x01\r\n\r\n", lim) == parse_errc::malformed);
  SUBCASE("the bound is on the trailer section, exactly") {
    const std::string fill = "X: ";
    const std::string at = head + fill + std::string(256 - fill.size() - 4, 'v') + "\r\n\r\n";
    CHECK(one_verdict(at, lim) == parse_errc::none);
    const std::string over = head + fill + std::string(256 - fill.size() - 3, 'v') + "\r\n\r\n";
    CHECK(one_verdict(over, lim) == parse_errc::head_too_large);
  }
  SUBCASE("a pipelined request after the trailers is served") {
    const outcome o = run({head + "A: 1\r\n\r\nGET /next HTTP/1.1\r\n\r\n"}, lim);
    CHECK(o.error == parse_errc::none);
    REQUIRE(o.messages.size() == 2);
    CHECK(o.messages[0].body == "hi");
    CHECK(o.messages[1].target == "/next");
    CHECK(one_verdict(head + "A: 1\r\n\r\nGET /next HTTP/1.1\r\n\r\n", lim) == parse_errc::none);
  }
}

TEST_CASE("mutated requests get one verdict at every split point") {
  std::mt19937 rng(16);
  const std::string bases[] = {
      "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\nGET / HTTP/1.1\r\n\r\n",
  };
  const char* pieces[] = {"\r\n", " ", ":", "\n", "X-A: b\r\n", "\r", "\x01", "HTTP/1.1", "0\r\n\r\n",
                          "Transfer-Encoding: chunked\r\n"};
  parser_limits lim;
  lim.max_head_bytes = 256;
  lim.max_headers = 4;
  lim.max_body_bytes = 64;
  int verdicts[5] = {};
  for (int i = 0; i < 400; ++i) {
    std::string s = bases[i % 2];
    s.insert(rng() % s.size(), std::string(rng() % 300, 'a'));
    for (int k = 0; k < 2; ++k) s.insert(rng() % (s.size() + 1), pieces[rng() % std::size(pieces)]);
    CAPTURE(s);
    ++verdicts[static_cast<int>(one_verdict(s, lim))];
  }
  // Not vacuous: the inputs reach both 400 and 431, and some parse.
  CHECK(verdicts[static_cast<int>(parse_errc::none)] > 0);
  CHECK(verdicts[static_cast<int>(parse_errc::malformed)] > 0);
  CHECK(verdicts[static_cast<int>(parse_errc::head_too_large)] > 0);
}
