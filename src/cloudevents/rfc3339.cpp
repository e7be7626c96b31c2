// SPDX-License-Identifier: Apache-2.0
// Hand-written RFC 3339 date-time check (no regex: it runs once per event).
// The kin-openapi regex admits Feb 30 and second 60; Go's time.Parse does not,
// so both are refused here too.
#include "rfc3339.hpp"

#include "json_scan.hpp"

namespace tg::cloudevents::detail {
namespace {

unsigned two(const char* p) noexcept { return static_cast<unsigned>((p[0] - '0') * 10 + (p[1] - '0')); }

bool leap(unsigned y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(unsigned y, unsigned m) noexcept {
  static constexpr unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

}  // namespace

bool valid_rfc3339(std::string_view s) noexcept {
  // The fixed part: "YYYY-MM-DDTHH:MM:SS" is 19 bytes, the shortest zone 1.
  if (s.size() < 20) return false;
  const char* p = s.data();
  static constexpr int digit_at[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
  for (int i : digit_at) {
    if (!is_digit(p[i])) return false;
  }
  if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':') return false;
  unsigned year = two(p) * 100 + two(p + 2);
  unsigned month = two(p + 5);
  unsigned day = two(p + 8);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  if (two(p + 11) > 23 || two(p + 14) > 59 || two(p + 17) > 59) return false;

  std::size_t i = 19;
  const std::size_t n = s.size();
  if (p[i] == '.') {
    std::size_t first = ++i;
    while (i < n && is_digit(p[i])) ++i;
    if (i == first) return false;
  }
  if (i >= n) return false;
  if (p[i] == 'Z') return i + 1 == n;
  if (p[i] != '+' && p[i] != '-') return false;
  if (n - i != 6 || !is_digit(p[i + 1]) || !is_digit(p[i + 2]) || p[i + 3] != ':' ||
      !is_digit(p[i + 4]) || !is_digit(p[i + 5])) {
    return false;
  }
  return two(p + i + 1) <= 23 && two(p + i + 4) <= 59;
}

}  // namespace tg::cloudevents::detail
