// SPDX-License-Identifier: Apache-2.0
// Whole-string number parsing for command lines: the text must be the number
// and nothing else ("12x" and "" are refused). std::from_chars underneath: no
// locale, no exceptions, no allocation.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

namespace tg {

inline bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

inline bool parse_double(std::string_view s, double& out) noexcept {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace tg
