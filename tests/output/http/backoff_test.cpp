// SPDX-License-Identifier: Apache-2.0
// Retry pacing: full-jitter exponential backoff stays inside its growing
// ceiling, and Retry-After is parsed in both of its forms and capped.
#include <doctest/doctest.h>

#include <algorithm>

#include "tollgate/output/http/backoff.hpp"

using namespace tg::upstream;

TEST_CASE("backoff delays stay within min(max, initial * 2^attempt)") {
  backoff b(100, 5000, 42);
  for (unsigned attempt = 0; attempt < 20; ++attempt) {
    CHECK(b.attempt() == attempt);
    unsigned ceiling = std::min(5000u, 100u << std::min(attempt, 16u));
    CHECK(b.current_ceiling_ms() == ceiling);
    CHECK(b.next_delay_ms() <= ceiling);
  }
}

TEST_CASE("backoff jitter covers the whole range and is not constant") {
  backoff b(1000, 1000, 7);
  unsigned lo = ~0u, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    unsigned d = b.next_delay_ms();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  CHECK(lo < 50);   // full jitter reaches down to (near) zero
  CHECK(hi > 950);  // and up to the ceiling
  CHECK(hi <= 1000);
}

TEST_CASE("backoff reset starts from the initial ceiling again") {
  backoff b(10, 10000, 1);
  for (int i = 0; i < 5; ++i) b.next_delay_ms();
  CHECK(b.current_ceiling_ms() == 320);
  b.reset();
  CHECK(b.attempt() == 0);
  CHECK(b.current_ceiling_ms() == 10);
  CHECK(b.next_delay_ms() <= 10);
}

TEST_CASE("backoff does not overflow after very many attempts") {
  backoff b(4000000000u, 4000000000u, 3);
  for (int i = 0; i < 200; ++i) CHECK(b.next_delay_ms() <= 4000000000u);
  backoff c(1, 60000, 3);
  for (int i = 0; i < 200; ++i) c.next_delay_ms();
  CHECK(c.current_ceiling_ms() == 60000);
}

TEST_CASE("different seeds give different jitter, the same seed the same") {
  backoff a(1000, 1000, 1), b(1000, 1000, 2), c(1000, 1000, 1);
  bool differ = false;
  for (int i = 0; i < 10; ++i) {
    unsigned x = a.next_delay_ms();
    differ = differ || x != b.next_delay_ms();
    CHECK(x == c.next_delay_ms());
  }
  CHECK(differ);
}

TEST_CASE("max below initial is treated as initial") {
  backoff b(500, 100, 9);
  CHECK(b.current_ceiling_ms() == 500);
}

TEST_CASE("Retry-After delay-seconds") {
  CHECK(parse_retry_after_ms("0", 0) == 0u);
  CHECK(parse_retry_after_ms("5", 0) == 5000u);
  CHECK(parse_retry_after_ms(" 120 ", 0) == 120000u);
  CHECK(parse_retry_after_ms("3600", 0) == 3600000u);
  SUBCASE("absurd values are capped at an hour") {
    CHECK(parse_retry_after_ms("3601", 0) == max_retry_after_ms);
    CHECK(parse_retry_after_ms("99999999999999999999999999", 0) == max_retry_after_ms);
  }
}

TEST_CASE("Retry-After HTTP-date is relative to now") {
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 seconds after the epoch.
  const std::time_t t = 784111777;
  CHECK(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t - 30) == 30000u);
  CHECK(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t) == 0u);
  CHECK(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t + 100) == 0u);  // in the past
  CHECK(parse_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", t - 86400) == max_retry_after_ms);
  // Leap day, and a date past 2038.
  CHECK(parse_retry_after_ms("Thu, 29 Feb 2024 00:00:10 GMT", 1709164800) == 10000u);
  CHECK(parse_retry_after_ms("Tue, 19 Jan 2100 00:00:01 GMT", 4104000000) == 1000u);
}

TEST_CASE("Retry-After garbage is rejected") {
  const char* bad[] = {
      "", "  ", "-5", "1.5", "5s", "soon", "0x10",
      "Sun, 06 Nov 1994 08:49:37 UTC",   // not GMT
      "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850 (obsolete)
      "Sun Nov  6 08:49:37 1994",        // asctime (obsolete)
      "Sun, 6 Nov 1994 08:49:37 GMT",    // one-digit day
      "Sun, 31 Nov 1994 08:49:37 GMT",   // no such day
      "Sun, 29 Feb 2023 08:49:37 GMT",   // not a leap year
      "Sun, 06 Foo 1994 08:49:37 GMT",
      "Xyz, 06 Nov 1994 08:49:37 GMT",
      "Sun, 06 Nov 1994 24:00:00 GMT",
      "Sun, 06 Nov 1994 08:49:37 GMTX",
  };
  for (const char* s : bad) {
    CAPTURE(s);
    CHECK_FALSE(parse_retry_after_ms(s, 0).has_value());
  }
}

TEST_CASE("retry delay honours Retry-After as a lower bound") {
  backoff b(100, 1000, 5);
  for (int i = 0; i < 50; ++i) CHECK(retry_delay_ms(b, 2000u) == 2000u);  // backoff ceiling below it
  b.reset();
  CHECK(retry_delay_ms(b, std::nullopt) <= 100u);
  CHECK(b.attempt() == 1);  // Retry-After or not, the attempt counts
  backoff c(10000, 10000, 5);
  for (int i = 0; i < 50; ++i) CHECK(retry_delay_ms(c, 0u) <= 10000u);
}
