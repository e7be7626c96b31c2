// SPDX-License-Identifier: Apache-2.0
// A reference JSON recognizer for the validator's differential tests and its
// fuzz target: RFC 8259's grammar, byte by byte, with no shared code and no
// simdjson. It checks syntax only, as RFC 8259 does: numbers of any size and
// lone surrogate escapes are JSON (simdjson's DOM parser refuses both).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tg::test {

class json_reference {
 public:
  // Whether `text` is one JSON value with optional white space around it, in
  // valid UTF-8. Nesting deeper than max_depth is refused (bounded recursion).
  static bool valid(std::string_view text, unsigned max_depth = 1024) noexcept {
    json_reference r(text, max_depth);
    r.ws();
    if (!r.value(0)) return false;
    r.ws();
    return r.p_ == r.end_;
  }

 private:
  json_reference(std::string_view t, unsigned max_depth) noexcept
      : p_(t.data()), end_(t.data() + t.size()), max_depth_(max_depth) {}

  const char* p_;
  const char* end_;
  unsigned max_depth_;

  bool more() const noexcept { return p_ < end_; }
  char peek() const noexcept { return *p_; }
  void ws() noexcept {
    while (more() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++p_;
  }
  bool lit(std::string_view w) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
    p_ += w.size();
    return true;
  }
  static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }
  static bool hex(char c) noexcept { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  bool value(unsigned depth) noexcept {
    if (!more()) return false;
    switch (peek()) {
      case '{': return depth < max_depth_ && object(depth + 1);
      case '[': return depth < max_depth_ && array(depth + 1);
      case '"': return string();
      case 't': return lit("true");
      case 'f': return lit("false");
      case 'n': return lit("null");
      default: return number();
    }
  }

  bool object(unsigned depth) noexcept {
    ++p_;  // '{'
    ws();
    if (more() && peek() == '}') return ++p_, true;
    for (;;) {
      ws();
      if (!more() || peek() != '"' || !string()) return false;
      ws();
      if (!more() || peek() != ':') return false;
      ++p_;
      ws();
      if (!value(depth)) return false;
      ws();
      if (!more()) return false;
      if (peek() == '}') return ++p_, true;
      if (peek() != ',') return false;
      ++p_;
    }
  }

  bool array(unsigned depth) noexcept {
    ++p_;  // '['
    ws();
    if (more() && peek() == ']') return ++p_, true;
    for (;;) {
      ws();
      if (!value(depth)) return false;
      ws();
      if (!more()) return false;
      if (peek() == ']') return ++p_, true;
      if (peek() != ',') return false;
      ++p_;
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() noexcept {
    if (more() && peek() == '-') ++p_;
    if (!more() || !digit(peek())) return false;
    if (peek() == '0') {
      ++p_;
    } else {
      while (more() && digit(peek())) ++p_;
    }
    if (more() && peek() == '.') {
      ++p_;
      if (!more() || !digit(peek())) return false;
      while (more() && digit(peek())) ++p_;
    }
    if (more() && (peek() == 'e' || peek() == 'E')) {
      ++p_;
      if (more() && (peek() == '+' || peek() == '-')) ++p_;
      if (!more() || !digit(peek())) return false;
      while (more() && digit(peek())) ++p_;
    }
    return true;
  }

  bool string() noexcept {
    ++p_;  // '"'
    while (more()) {
      const auto c = static_cast<unsigned char>(peek());
      if (c == '"') return ++p_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        ++p_;
        if (!more()) return false;
        switch (peek()) {
          case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': ++p_; break;
          case 'u':
            if (end_ - p_ < 5 || !hex(p_[1]) || !hex(p_[2]) || !hex(p_[3]) || !hex(p_[4])) return false;
            p_ += 5;
            break;
          default: return false;
        }
        continue;
      }
      if (c < 0x80) {
        ++p_;
        continue;
      }
      if (!utf8()) return false;
    }
    return false;  // unterminated
  }

  // One multi-byte UTF-8 sequence (RFC 3629: shortest form, no surrogates, at
  // most U+10FFFF).
  bool utf8() noexcept {
    const auto b0 = static_cast<unsigned char>(p_[0]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) n = 2, cp = b0 & 0x1F;
    else if (b0 >= 0xE0 && b0 <= 0xEF) n = 3, cp = b0 & 0x0F;
    else if (b0 >= 0xF0 && b0 <= 0xF4) n = 4, cp = b0 & 0x07;
    else return false;
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    for (std::size_t i = 1; i < n; ++i) {
      const auto b = static_cast<unsigned char>(p_[i]);
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    p_ += n;
    return true;
  }
};

}  // namespace tg::test
