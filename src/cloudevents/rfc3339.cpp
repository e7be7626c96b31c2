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

// Two ASCII digits read as a big-endian 16-bit number: once both are known to
// be digits, comparing these compares the numbers ("09" < "10" < "12").
constexpr std::uint32_t pair(const char* p) noexcept {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) << 8 | static_cast<unsigned char>(p[1]);
}

}  // namespace

// "YYYY-MM-DDTHH:MM:SS.mmmZ", the form every SDK writes. Every byte is held
// to a range of its own (a digit, a separator, or a tens digit's few values:
// month 0-1, day 0-3, hour 0-2, minute and second 0-5) with two 16-byte
// compares in the compiler's portable vectors (SSE2 on x86-64, NEON on arm64);
// what is left is four two-digit compares, and the calendar past the 28th.
bool rfc3339_millis_utc(std::string_view s) noexcept {
  if (s.size() != 24) return false;
  using v16 = unsigned char __attribute__((vector_size(16)));
  // Bytes 0-15, then 8-23: each byte b must satisfy b - low <= span.
  constexpr v16 low0 = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0', '0', ':', '0', '0'};
  constexpr v16 span0 = {9, 9, 9, 9, 0, 1, 9, 0, 3, 9, 0, 2, 9, 0, 5, 9};
  constexpr v16 low1 = {'0', '0', 'T', '0', '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
  constexpr v16 span1 = {3, 9, 0, 2, 9, 0, 5, 9, 0, 5, 9, 0, 9, 9, 9, 0};
  const char* p = s.data();
  v16 x0, x1;
  std::memcpy(&x0, p, 16);
  std::memcpy(&x1, p + 8, 16);
  const auto bad = ((x0 - low0) > span0) | ((x1 - low1) > span1);
  std::uint64_t w[2];
  std::memcpy(w, &bad, 16);
  if ((w[0] | w[1]) != 0) return false;
  const std::uint32_t month = pair(p + 5), day = pair(p + 8);
  if (month == pair("00") || month > pair("12") || day == pair("00") || pair(p + 11) > pair("23")) return false;
  return day <= pair("28") || two(p + 8) <= days_in_month(two(p) * 100 + two(p + 2), two(p + 5));
}

bool valid_rfc3339(std::string_view s) noexcept { return rfc3339_millis_utc(s) || rfc3339_general(s); }

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
