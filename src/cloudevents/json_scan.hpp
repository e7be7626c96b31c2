// SPDX-License-Identifier: Apache-2.0
// Byte-level JSON checks the On-Demand API leaves to us. simdjson's stage 1
// already rejects bad UTF-8, unescaped control characters and unclosed strings;
// what it does not check until a value is parsed (escapes, number grammar,
// literals) is checked here on the raw token, without copying.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace tg::cloudevents::detail {

// One compare and one bit test: it runs at the end of every token.
inline bool is_ws(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u <= ' ' && ((1ull << ' ' | 1ull << '\n' | 1ull << '\r' | 1ull << '\t') >> u & 1u) != 0;
}
inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
inline bool is_hex(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// A simdjson token runs to the next structural character, so it may carry
// trailing white space.
inline std::string_view trim_token(std::string_view tok) noexcept {
  std::size_t n = tok.size();
  while (n > 0 && is_ws(tok[n - 1])) --n;
  return tok.substr(0, n);
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
inline bool valid_number(std::string_view s) noexcept {
  const char* p = s.data();
  const char* end = p + s.size();
  if (p < end && *p == '-') ++p;
  if (p == end) return false;
  if (*p == '0') {
    ++p;
  } else if (is_digit(*p)) {
    while (p < end && is_digit(*p)) ++p;
  } else {
    return false;
  }
  if (p < end && *p == '.') {
    ++p;
    if (p == end || !is_digit(*p)) return false;
    while (p < end && is_digit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !is_digit(*p)) return false;
    while (p < end && is_digit(*p)) ++p;
  }
  return p == end;
}

// Whether a raw string body holds a backslash, eight bytes at a time. Reads up
// to 7 bytes past the end: every string lies inside a body that is followed by
// simdjson's 64 bytes of padding.
inline bool has_backslash(std::string_view raw) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t highs = 0x8080808080808080ull;
  constexpr std::uint64_t backslashes = 0x5c5c5c5c5c5c5c5cull;
  const char* p = raw.data();
  std::size_t n = raw.size();
  for (;; p += 8, n -= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    x ^= backslashes;  // a backslash becomes a zero byte
    std::uint64_t zero = (x - ones) & ~x & highs;
    if (n <= 8) {
      // Only bytes above a true zero can be flagged falsely, so keeping the
      // low n bytes is exact (little-endian).
      return n != 0 && (zero & (~0ull >> (64 - 8 * n))) != 0;
    }
    if (zero != 0) return true;
  }
}

// Escapes in a raw string body (between the quotes). Lone surrogates pass, as
// they do in Go's encoding/json.
inline bool valid_escapes(std::string_view raw) noexcept {
  if (!has_backslash(raw)) return true;
  const char* p = static_cast<const char*>(std::memchr(raw.data(), '\\', raw.size()));
  const char* end = raw.data() + raw.size();
  while (p != nullptr) {
    if (p + 1 >= end) return false;
    switch (p[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        break;
      case 'u':
        if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) return false;
        p += 6;
        break;
      default:
        return false;
    }
    p = p < end ? static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(end - p))) : nullptr;
  }
  return true;
}

// The body of a string token (between the quotes). The token must start with
// '"'; stage 1 guarantees the closing quote is its last non-blank byte.
inline std::string_view string_body(std::string_view tok) noexcept {
  std::string_view t = trim_token(tok);
  return t.size() >= 2 ? t.substr(1, t.size() - 2) : std::string_view{};
}

// The raw key of an object field: it starts at `key` (just past its opening
// quote) and ends at the last quote before the ':' that precedes `value`.
// Whether a string token is followed by ':' (a string where a value belongs,
// read by On-Demand's skip as a key: issue 16). A token runs to the start of
// the next one, so that byte is the next token's first.
inline bool followed_by_colon(std::string_view tok) noexcept { return tok.data()[tok.size()] == ':'; }

inline std::string_view raw_key(const char* key, const char* value) noexcept {
  const char* q = value - 1;
  while (is_ws(*q)) --q;  // now at ':'
  --q;
  while (is_ws(*q)) --q;  // now at the closing quote
  return {key, static_cast<std::size_t>(q - key)};
}

}  // namespace tg::cloudevents::detail
