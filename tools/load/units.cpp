// SPDX-License-Identifier: Apache-2.0
// Duration and rate parsing for tollgate-load. Numbers go through
// std::from_chars (no locale); units are matched longest first so "ms" is
// never read as "m" then junk.
#include "units.hpp"

#include <charconv>
#include <cmath>

namespace tg::load {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The leading non-negative decimal number of `s` (digits, one '.', an
// optional exponent as in "1e3": plain numbers were parsed that way before
// units came), or nullopt; `s` is advanced past it.
std::optional<double> take_number(std::string_view& s) {
  std::size_t n = 0;
  bool dot = false, digit = false;
  while (n < s.size() && (is_digit(s[n]) || (s[n] == '.' && !dot))) {
    if (s[n] == '.') dot = true;
    else digit = true;
    ++n;
  }
  if (!digit) return std::nullopt;
  if (n + 1 < s.size() && (s[n] == 'e' || s[n] == 'E')) {
    std::size_t e = n + 1;
    if (s[e] == '+' || s[e] == '-') ++e;
    if (e < s.size() && is_digit(s[e])) {
      while (e < s.size() && is_digit(s[e])) ++e;
      n = e;
    }
  }
  double v = 0;
  const auto r = std::from_chars(s.data(), s.data() + n, v);
  if (r.ec != std::errc() || r.ptr != s.data() + n) return std::nullopt;
  s.remove_prefix(n);
  return v;
}

// The unit at the front of `s` in seconds, advancing past it; nullopt if none.
std::optional<double> take_unit(std::string_view& s) {
  struct unit {
    std::string_view name;
    double seconds;
  };
  // Two-letter units first: "ms" must not match "m".
  static constexpr unit units[] = {{"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3},
                                   {"s", 1},     {"m", 60},    {"h", 3600}};
  for (const unit& u : units) {
    if (s.starts_with(u.name)) {
      s.remove_prefix(u.name.size());
      return u.seconds;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> parse_duration(std::string_view text, double bare_unit_s) {
  std::string_view s = text;
  auto first = take_number(s);
  if (!first) return std::nullopt;
  if (s.empty()) return *first * bare_unit_s;
  double total = 0;
  std::optional<double> n = first;
  while (true) {
    const auto unit = take_unit(s);
    if (!unit) return std::nullopt;
    total += *n * *unit;
    if (s.empty()) break;
    n = take_number(s);
    if (!n) return std::nullopt;
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

std::optional<double> parse_rate(std::string_view text) {
  const std::size_t slash = text.find('/');
  std::string_view count_text = text.substr(0, slash);
  auto count = take_number(count_text);
  if (!count) return std::nullopt;
  if (count_text == "k" || count_text == "K") *count *= 1e3;
  else if (count_text == "M") *count *= 1e6;
  else if (!count_text.empty()) return std::nullopt;
  double per_s = 1;
  if (slash != std::string_view::npos) {
    std::string_view over = text.substr(slash + 1);
    // "/s", "/m": one of the unit; "/1s", "/500ms": a duration.
    std::string_view unit_only = over;
    if (const auto u = take_unit(unit_only); u && unit_only.empty()) {
      per_s = *u;
    } else {
      const auto d = parse_duration(over, 1);
      if (!d || *d <= 0) return std::nullopt;
      per_s = *d;
    }
  }
  const double r = *count / per_s;
  if (!std::isfinite(r)) return std::nullopt;
  return r;
}

}  // namespace tg::load
