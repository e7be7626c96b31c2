// SPDX-License-Identifier: Apache-2.0
// Exact decimal reading of unix timestamps; the calendar arithmetic is
// base/clock's format_rfc3339_millis (civil-from-days, any sign).
#include "unix_time.hpp"

#include <cstdint>

namespace tg::mapping::detail {
namespace {

// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in milliseconds since 1970.
constexpr std::int64_t min_ms = -62167219200000;
constexpr std::int64_t max_ms = 253402300799999;

}  // namespace

bool parse_unix_ms(std::string_view text, time_format f, std::int64_t& out_ms) noexcept {
  const char* p = text.data();
  const char* end = p + text.size();
  const bool negative = p < end && *p == '-';
  if (negative) ++p;
  // The whole part: at most 15 digits keeps the arithmetic far from overflow
  // (the range check below refuses anything that large anyway).
  const char* whole = p;
  std::int64_t units = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (p - whole == 15) return false;
    units = units * 10 + (*p++ - '0');
  }
  if (p == whole) return false;
  std::int64_t frac_ms = 0;  // the first three fraction digits, in units of 10^-3 of the unit
  if (p < end && *p == '.') {
    ++p;
    const char* first = p;
    int scale = 100;
    while (p < end && *p >= '0' && *p <= '9') {
      frac_ms += (*p++ - '0') * scale;
      scale /= 10;  // reaches 0: later digits are dropped
    }
    if (p == first) return false;
  }
  if (p != end) return false;
  std::int64_t ms = 0;
  if (f == time_format::unix_s) {
    ms = units * 1000 + frac_ms;
  } else {
    ms = units;  // fractions of a millisecond are dropped
  }
  if (negative) ms = -ms;
  if (ms < min_ms || ms > max_ms) return false;
  out_ms = ms;
  return true;
}

void format_unix_ms(std::int64_t ms, char (&out)[rfc3339_millis_len]) noexcept {
  // Floor division, so -1 ms is 1969-12-31T23:59:59.999Z.
  std::int64_t secs = ms / 1000;
  std::int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --secs;
  }
  timespec t{};
  t.tv_sec = static_cast<time_t>(secs);
  t.tv_nsec = static_cast<long>(rem * 1000000);
  format_rfc3339_millis(t, out);
}

}  // namespace tg::mapping::detail
