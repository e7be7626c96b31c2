// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the HTTP request parser over arbitrary bytes in arbitrary
// pieces (split_input.hpp). Oracles besides the sanitizers: consumed never
// exceeds what was fed (parser_driver.hpp checks), and the outcome (requests,
// heads, error) is the same as for the bytes fed whole (issue 16), the same
// again when the parser frees its buffers between requests (shrink()), and
// when the pieces are lent (feed_lent, with and without keep_body()): a lent
// body must lie inside its piece, and a kept one outlive it.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "parser_driver.hpp"
#include "split_input.hpp"

using namespace tg::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tg::fuzz::split_input in = tg::fuzz::parse_split_input(data, size);
  parser_limits lim;
  if (in.small_limits) {
    lim.max_head_bytes = 256;
    lim.max_headers = 4;
    lim.max_body_bytes = 64;
  }
  try {
    request_parser whole_parser(lim);
    const test::outcome whole = test::drive(whole_parser, {in.payload});
    request_parser split_parser(lim);
    const test::outcome split = test::drive(split_parser, in.pieces);
    if (!(whole == split)) {
      std::fprintf(stderr, "verdict depends on the split: error %d vs %d, %zu vs %zu requests\n",
                   static_cast<int>(whole.error), static_cast<int>(split.error), whole.messages.size(),
                   split.messages.size());
      std::abort();
    }
    request_parser slim_parser(lim);
    if (!(test::drive(slim_parser, in.pieces, true) == split)) {
      std::fprintf(stderr, "shrink() between requests changed the outcome\n");
      std::abort();
    }
    for (const test::feeding how : {test::feeding::lend, test::feeding::lend_keep}) {
      request_parser lent_parser(lim);
      if (!(test::drive(lent_parser, in.pieces, false, how) == split)) {
        std::fprintf(stderr, "lent input (%d) changed the outcome\n", static_cast<int>(how));
        std::abort();
      }
    }
    for (const test::parsed& m : whole.messages) {
      if (m.body.size() > lim.max_body_bytes) std::abort();
    }
    const feed_result f = split_parser.finish();
    if (f.ev == event::head_complete || f.ev == event::message_complete) std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parser contract broken: %s\n", e.what());
    std::abort();
  }
  return 0;
}
