// SPDX-License-Identifier: Apache-2.0
// Whole-string number parsing for command lines: the text must be the number
// and nothing else ("12x" and "" are refused). std::from_chars underneath: no
// locale, no exceptions, no allocation.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
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

// "--name=value" → ("--name", "value"); anything else → (arg, nullopt), so the
// value is the next argument. For the bundled tools' command lines.
struct flag_arg {
  std::string_view name;
  std::optional<std::string_view> value;
};

inline flag_arg split_flag(std::string_view arg) noexcept {
  if (const std::size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
    return {arg.substr(0, eq), arg.substr(eq + 1)};
  }
  return {arg, std::nullopt};
}

}  // namespace tg
