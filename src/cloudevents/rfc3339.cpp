// SPDX-License-Identifier: Apache-2.0
// Hand-written RFC 3339 date-time check (no regex: it runs once per event).
// The kin-openapi regex admits Feb 30 and second 60; Go's time.Parse does not,
// so both are refused here too.
#include "rfc3339.hpp"

#include <cstdint>
#include <cstring>

#include "json_scan.hpp"

namespace tg::cloudevents::detail {
namespace {

unsigned two(const char* p) noexcept { return static_cast<unsigned>((p[0] - '0') * 10 + (p[1] - '0')); }

std::uint64_t load8(const char* p) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return x;
}

constexpr std::uint64_t bytes(std::uint8_t b) noexcept { return 0x0101010101010101ull * b; }

// Whether the bytes of x where `mask` is 0xff are ASCII digits (little-endian:
// byte i is bits 8i..8i+7). The others are set to '0' first. A digit is 0x3X
// with 0x3X + 6 still 0x3X, i.e. X <= 9; once every byte is 0x3X, adding 6
// carries into no other byte (and if one is not, the result is false anyway).
bool digits(std::uint64_t x, std::uint64_t mask) noexcept {
  x = (x & mask) | (bytes('0') & ~mask);
  return (((x & bytes(0xf0)) ^ bytes(0x30)) | (((x + bytes(0x06)) & bytes(0xf0)) ^ bytes(0x30))) == 0;
}

bool leap(unsigned y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(unsigned y, unsigned m) noexcept {
  static constexpr unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

}  // namespace

bool rfc3339_general(std::string_view s) noexcept {
  // The fixed part: "YYYY-MM-DDTHH:MM:SS" is 19 bytes, the shortest zone 1.
  if (s.size() < 20) return false;
  // Checked eight bytes at a time (three loads within the 20 bytes), without
  // a branch per byte: this runs once per event.
  const char* p = s.data();
  const std::uint64_t w0 = load8(p), w1 = load8(p + 8), w2 = load8(p + 12);
  // w0 is "YYYY-MM-", w1 "DDTHH:MM", w2 "H:MM:SS" and one byte more.
  constexpr auto at = [](char c, int byte) { return std::uint64_t{static_cast<unsigned char>(c)} << (8 * byte); };
  const bool shape = digits(w0, 0x00ffff00ffffffffull) & digits(w1, 0xffff00ffff00ffffull) &
                     digits(w2, 0x00ffff0000000000ull) &
                     ((w0 & (at('\xff', 4) | at('\xff', 7))) == (at('-', 4) | at('-', 7))) &
                     ((w1 & (at('\xff', 2) | at('\xff', 5))) == (at('T', 2) | at(':', 5))) &
                     ((w2 & at('\xff', 4)) == at(':', 4));
  if (!shape) return false;
  unsigned year = two(p) * 100 + two(p + 2);
  unsigned month = two(p + 5);
  unsigned day = two(p + 8);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return false;
  if (two(p + 11) > 23 || two(p + 14) > 59 || two(p + 17) > 59) return false;

  const std::size_t n = s.size();
  std::size_t i = 19;
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
