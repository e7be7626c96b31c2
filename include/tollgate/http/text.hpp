// SPDX-License-Identifier: Apache-2.0
// The few text rules HTTP fields need, in one place: ASCII case-insensitive
// comparison (field names, codings, Connection tokens) and trimming optional
// white space (RFC 9110 5.6.3: spaces and tabs). Protocol-core helpers: no I/O.
#pragma once

#include <cstddef>
#include <string_view>

namespace tg::http {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trim_ows(std::string_view v) noexcept {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace tg::http
