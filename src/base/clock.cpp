// SPDX-License-Identifier: Apache-2.0
// Clock helpers. Formatting is done by hand: strftime takes the locale lock and
// gmtime_r is slower than the civil-from-days arithmetic below.
#include "tollgate/base/clock.hpp"

namespace tg {

std::uint64_t monotonic_ms() noexcept {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000u + static_cast<std::uint64_t>(t.tv_nsec) / 1000000u;
}

std::uint64_t monotonic_ns() noexcept {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000000000u + static_cast<std::uint64_t>(t.tv_nsec);
}

timespec wall_now() noexcept {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

namespace {
void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}
}  // namespace

void format_rfc3339_millis(const timespec& t, char* out) noexcept {
  // Howard Hinnant's civil_from_days.
  long long secs = t.tv_sec;
  long long days = secs / 86400;
  long long rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  long long z = days + 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long y = static_cast<long long>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  unsigned year = static_cast<unsigned>(y);
  put2(out, year / 100);
  put2(out + 2, year % 100);
  out[4] = '-';
  put2(out + 5, m);
  out[7] = '-';
  put2(out + 8, d);
  out[10] = 'T';
  unsigned r = static_cast<unsigned>(rem);
  put2(out + 11, r / 3600);
  out[13] = ':';
  put2(out + 14, (r / 60) % 60);
  out[16] = ':';
  put2(out + 17, r % 60);
  out[19] = '.';
  unsigned ms = static_cast<unsigned>(t.tv_nsec / 1000000);
  out[20] = static_cast<char>('0' + ms / 100);
  out[21] = static_cast<char>('0' + (ms / 10) % 10);
  out[22] = static_cast<char>('0' + ms % 10);
  out[23] = 'Z';
}

}  // namespace tg
