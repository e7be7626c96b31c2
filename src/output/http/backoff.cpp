// SPDX-License-Identifier: Apache-2.0
// Backoff arithmetic and Retry-After parsing. The HTTP-date is converted with a
// civil-from-days calculation rather than timegm() so the result does not
// depend on the process's locale or TZ, and nothing here can fail but by value.
#include "tollgate/output/http/backoff.hpp"

#include <algorithm>
#include <array>

namespace tg::upstream {
namespace {

__extension__ typedef unsigned __int128 u128;  // GCC/Clang builtin; __extension__ keeps -Wpedantic quiet

// splitmix64: one multiply-xorshift round per draw, good enough for jitter and
// valid for any seed (including 0).
std::uint64_t splitmix64(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool digits(std::string_view s, std::size_t n, int& out) noexcept {
  if (s.size() < n) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(int y, int m, int d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int days_in_month(int y, int m) noexcept {
  static constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[static_cast<std::size_t>(m - 1)];
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT", exactly 29 bytes.
std::optional<std::int64_t> parse_imf_fixdate(std::string_view s) noexcept {
  static constexpr std::array<std::string_view, 7> wdays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(wdays.begin(), wdays.end(), s.substr(0, 3)) == wdays.end()) return std::nullopt;
  auto mit = std::find(months.begin(), months.end(), s.substr(8, 3));
  if (mit == months.end()) return std::nullopt;
  int month = static_cast<int>(mit - months.begin()) + 1;
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0;
  if (!digits(s.substr(5), 2, day) || !digits(s.substr(12), 4, year) || !digits(s.substr(17), 2, hh) ||
      !digits(s.substr(20), 2, mm) || !digits(s.substr(23), 2, ss)) {
    return std::nullopt;
  }
  // 60 admits a leap second; the weekday name is not cross-checked (senders get it wrong, it adds nothing).
  if (day < 1 || day > days_in_month(year, month) || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  return days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
}

}  // namespace

backoff::backoff(unsigned initial_ms, unsigned max_ms, std::uint64_t seed) noexcept
    : initial_ms_(initial_ms), max_ms_(std::max(initial_ms, max_ms)), state_(seed) {}

std::uint64_t backoff::next_random() noexcept { return splitmix64(state_); }

unsigned backoff::current_ceiling_ms() const noexcept {
  // Shift in 64 bits and stop early so a long outage cannot overflow.
  std::uint64_t ceiling = initial_ms_;
  for (unsigned i = 0; i < attempt_ && ceiling < max_ms_; ++i) ceiling <<= 1;
  return static_cast<unsigned>(std::min<std::uint64_t>(ceiling, max_ms_));
}

unsigned backoff::next_delay_ms() noexcept {
  std::uint64_t span = std::uint64_t{current_ceiling_ms()} + 1;  // inclusive upper bound
  // Lemire's multiply-shift: uniform enough for jitter, no division.
  auto delay = static_cast<unsigned>((static_cast<u128>(next_random()) * span) >> 64);
  if (attempt_ < 64) ++attempt_;  // past 64 the ceiling is max_ms anyway
  return delay;
}

std::optional<unsigned> parse_retry_after_ms(std::string_view value, std::time_t now) noexcept {
  std::string_view v = trim(value);
  if (v.empty()) return std::nullopt;
  if (v.front() >= '0' && v.front() <= '9') {
    std::uint64_t secs = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return std::nullopt;
      secs = std::min<std::uint64_t>(secs * 10 + static_cast<unsigned>(c - '0'), max_retry_after_ms);
    }
    return static_cast<unsigned>(std::min<std::uint64_t>(secs * 1000, max_retry_after_ms));
  }
  auto when = parse_imf_fixdate(v);
  if (!when) return std::nullopt;
  std::int64_t delta = *when - static_cast<std::int64_t>(now);
  if (delta <= 0) return 0u;
  return static_cast<unsigned>(std::min<std::int64_t>(delta * 1000, max_retry_after_ms));
}

unsigned retry_delay_ms(backoff& b, std::optional<unsigned> retry_after_ms) noexcept {
  unsigned jittered = b.next_delay_ms();
  return retry_after_ms ? std::max(jittered, *retry_after_ms) : jittered;
}

}  // namespace tg::upstream
