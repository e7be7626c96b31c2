// SPDX-License-Identifier: Apache-2.0
// Durations and rates in the forms wrk, hey and vegeta users type: units,
// compound durations, k/M counts, rates over a unit or a duration, and the
// texts that must be refused.
#include <doctest/doctest.h>

#include "units.hpp"

using namespace tg::load;

TEST_CASE("durations take ns, us, ms, s, m and h, and compound terms") {
  struct row {
    const char* text;
    double seconds;
  };
  for (const row& r : {row{"500ms", 0.5}, row{"3s", 3}, row{"1m", 60}, row{"1h", 3600}, row{"1m30s", 90},
                       row{"1h2m3s", 3723}, row{"2.5s", 2.5}, row{"250us", 250e-6}, row{"10ns", 10e-9},
                       row{"0", 0}, row{"0s", 0}, row{"1.5m", 90}, row{"1e1", 10}, row{"2.5e-1s", 0.25}}) {
    CAPTURE(r.text);
    const auto d = parse_duration(r.text, 1);
    REQUIRE(d);
    CHECK(*d == doctest::Approx(r.seconds));
  }
}

TEST_CASE("a bare number is in the caller's unit: seconds for --duration, ms for --timeout") {
  CHECK(*parse_duration("10", 1) == doctest::Approx(10));
  CHECK(*parse_duration("2.5", 1) == doctest::Approx(2.5));
  CHECK(*parse_duration("250", 1e-3) == doctest::Approx(0.25));
  CHECK(*parse_duration("250ms", 1e-3) == doctest::Approx(0.25));  // a unit wins over the bare unit
}

TEST_CASE("durations with junk, signs, unknown units or a trailing bare number are refused") {
  for (const char* bad : {"", "s", "-1", "-1s", "+3s", "3x", "3 s", "3s ", "1m30", "ms", "3.s5", "1..5s", "1e",
                          "3sec", "1d", "."}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration(bad, 1));
  }
}

TEST_CASE("rates take k and M, and a unit or a duration after a slash") {
  struct row {
    const char* text;
    double per_s;
  };
  for (const row& r : {row{"2000", 2000}, row{"10k", 10000}, row{"10K", 10000}, row{"1.5M", 1.5e6},
                       row{"1000/s", 1000}, row{"10k/s", 10000}, row{"600/m", 10}, row{"3600/h", 1},
                       row{"50/1s", 50}, row{"100/500ms", 200}, row{"1/2s", 0.5}, row{"2.5", 2.5},
                       row{"10/ms", 10000}, row{"1e3", 1000}, row{"2E4/m", 2e4 / 60}}) {
    CAPTURE(r.text);
    const auto v = parse_rate(r.text);
    REQUIRE(v);
    CHECK(*v == doctest::Approx(r.per_s));
  }
}

TEST_CASE("rates with junk or a zero period are refused") {
  for (const char* bad : {"", "k", "/s", "10x", "10k/", "10/0s", "10/x", "10/s/s", "-5", "10 k", "10kk", "e3", "1e"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rate(bad));
  }
}
