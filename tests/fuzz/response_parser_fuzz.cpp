// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the HTTP response parser over arbitrary bytes in arbitrary
// pieces (split_input.hpp), then end of input. Oracles besides the sanitizers:
// consumed never exceeds what was fed, kept bodies stay within their bound,
// and the outcome is the same as for the bytes fed whole.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "split_input.hpp"
#include "tollgate/http/response_parser.hpp"

using namespace tg::http;

namespace {

struct outcome {
  std::vector<std::string> responses;  // status, keep-alive, body, Retry-After of each
  response_errc error = response_errc::none;
  bool operator==(const outcome&) const = default;
};

std::string describe(const response& r) {
  std::string s = std::to_string(r.status) + (r.keep_alive ? " ka " : " close ") + std::to_string(r.body_bytes) +
                  (r.body_truncated ? " truncated " : " ") + std::string(r.body) + " retry=" +
                  std::string(r.retry_after);
  return s;
}

outcome drive(const std::vector<std::string_view>& pieces, const response_limits& lim) {
  response_parser p(lim);
  outcome out;
  auto on = [&](const response_feed_result& r) {
    if (r.ev == response_event::error) {
      out.error = r.error;
      return false;
    }
    if (r.ev == response_event::response_complete) {
      const response& resp = p.current();
      if (resp.body.size() > lim.max_body_bytes) std::abort();
      out.responses.push_back(describe(resp));
      p.next();
    }
    return true;
  };
  for (std::string_view piece : pieces) {
    std::string scratch(piece);  // poisoned after use: views must not point into it
    std::string_view rest = scratch;
    for (;;) {
      const response_feed_result r = p.feed({rest.data(), rest.size()});
      if (r.consumed > rest.size()) std::abort();
      rest.remove_prefix(r.consumed);
      if (!on(r)) return out;
      if (r.ev == response_event::need_more) {
        if (!rest.empty()) std::abort();
        break;
      }
    }
    scratch.assign(scratch.size(), '#');
  }
  on(p.finish());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const tg::fuzz::split_input in = tg::fuzz::parse_split_input(data, size);
  response_limits lim;
  if (in.small_limits) {
    lim.max_head_bytes = 256;
    lim.max_headers = 4;
    lim.max_body_bytes = 16;
  }
  const outcome whole = drive({in.payload}, lim);
  const outcome split = drive(in.pieces, lim);
  if (!(whole == split)) {
    std::fprintf(stderr, "outcome depends on the split: error %d vs %d, %zu vs %zu responses\n",
                 static_cast<int>(whole.error), static_cast<int>(split.error), whole.responses.size(),
                 split.responses.size());
    std::abort();
  }
  return 0;
}
