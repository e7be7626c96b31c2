// SPDX-License-Identifier: Apache-2.0
// Writing JSON string content: the minimal escaping RFC 8259 requires (quote,
// backslash, control characters), so text that needs none is copied unchanged.
// Used for template literals (once, when routes are compiled), for objects and
// arrays spliced into text, and for decoded binary-mode header values.
#pragma once

#include <string>
#include <string_view>

namespace tg::mapping::detail {

inline void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
  }
  out.append(s.data() + run, s.size() - run);
}

inline std::string escaped(std::string_view s) {
  std::string out;
  append_escaped(out, s);
  return out;
}

}  // namespace tg::mapping::detail
