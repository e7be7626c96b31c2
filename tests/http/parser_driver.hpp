// SPDX-License-Identifier: Apache-2.0
// Test helper: drives a request_parser the way a connection does (feed, act on
// the event, feed the rest) over a list of pieces, copying each piece into a
// scratch buffer that is poisoned afterwards, so views that were not copied fail.
// Fed as lent bytes (feed_lent), a lent body must lie inside the piece with
// body_padding bytes after it, and keep_body() must make it the parser's own.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tollgate/http/request_parser.hpp"

namespace tg::http::test {

struct parsed {
  method verb = method::other;
  std::string method_name, target, path, content_type, authorization, body;
  int version = 0;  // 10 or 11
  bool keep_alive = false, expect_continue = false, chunked = false, has_content_length = false;
  std::uint64_t content_length = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  friend bool operator==(const parsed&, const parsed&) = default;
};

struct outcome {
  std::vector<parsed> messages;
  int heads = 0;
  parse_errc error = parse_errc::none;
  friend bool operator==(const outcome&, const outcome&) = default;
};

inline parsed snapshot(const request& r) {
  parsed p;
  p.verb = r.verb;
  p.method_name = r.method_name;
  p.target = r.target;
  p.path = r.path;
  p.content_type = r.content_type;
  p.authorization = r.authorization;
  p.body = r.body;
  p.version = r.version_major * 10 + r.version_minor;
  p.keep_alive = r.keep_alive;
  p.expect_continue = r.expect_continue;
  p.chunked = r.chunked;
  p.has_content_length = r.has_content_length;
  p.content_length = r.content_length;
  for (const auto& [n, v] : r.headers()) p.headers.emplace_back(n, v);
  return p;
}

// How the driver hands the parser its bytes: copied (feed), lent for the
// piece (feed_lent, as the front door lends a receive buffer), or lent with
// every completed request kept past the loan (keep_body, as a parked one is).
enum class feeding : std::uint8_t { copy, lend, lend_keep };

// Bytes that would break a reader of the padding that took them for JSON.
inline constexpr std::string_view hostile_padding = "}]\"x";

// shrink_between: shrink() after each message's next(), as an idle connection's trim does.
inline outcome drive(request_parser& parser, const std::vector<std::string_view>& pieces, bool shrink_between = false,
                     feeding how = feeding::copy) {
  outcome out;
  for (std::string_view piece : pieces) {
    std::string scratch(piece);
    while (scratch.size() < piece.size() + body_padding) scratch.append(hostile_padding);
    std::span<const char> rest(scratch.data(), piece.size());
    for (;;) {
      feed_result r = how == feeding::copy ? parser.feed(rest) : parser.feed_lent(rest);
      if (r.consumed > rest.size()) throw std::runtime_error("consumed past the input");
      rest = rest.subspan(r.consumed);
      if (r.ev == event::need_more) {
        if (!rest.empty()) throw std::runtime_error("need_more with bytes left");
        break;
      }
      if (r.ev == event::error) {
        out.error = r.error;
        return out;
      }
      if (r.ev == event::head_complete) {
        ++out.heads;
        continue;
      }
      if (parser.body_lent()) {
        const std::string_view b = parser.current().body;
        if (how == feeding::copy) throw std::runtime_error("a body lent by feed()");
        if (b.data() < scratch.data() || b.data() + b.size() > scratch.data() + piece.size())
          throw std::runtime_error("a lent body outside the lent bytes");
      }
      if (how == feeding::lend_keep) {
        parser.keep_body();
        if (parser.body_lent()) throw std::runtime_error("keep_body() left the body lent");
        const std::string_view b = parser.current().body;
        if (b.data() + b.size() > scratch.data() && b.data() < scratch.data() + scratch.size())
          throw std::runtime_error("a kept body still in the lent bytes");
        // The loan ends: its bytes are poisoned before the request is read,
        // and the rest of the piece goes on from a fresh copy.
        const std::size_t off = static_cast<std::size_t>(rest.data() - scratch.data());
        std::string fresh(scratch);
        scratch.assign(scratch.size(), '#');
        out.messages.push_back(snapshot(parser.current()));
        scratch.swap(fresh);
        rest = std::span<const char>(scratch.data() + off, rest.size());
      } else {
        out.messages.push_back(snapshot(parser.current()));
      }
      parser.next();
      if (shrink_between) parser.shrink();
    }
    scratch.assign(scratch.size(), '#');
  }
  return out;
}

inline outcome drive_whole(std::string_view bytes) {
  request_parser p;
  return drive(p, {bytes});
}

inline std::vector<std::string_view> bytewise(std::string_view s) {
  std::vector<std::string_view> v;
  for (std::size_t i = 0; i < s.size(); ++i) v.push_back(s.substr(i, 1));
  return v;
}

}  // namespace tg::http::test
