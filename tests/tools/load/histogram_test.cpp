// SPDX-License-Identifier: Apache-2.0
// The latency histogram against a sorted reference: on random data spanning
// 1 ns to 60 s, every percentile is never below the exact value and within the
// stated relative precision above it; max is exact; merging is lossless.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "histogram.hpp"

using tg::load::histogram;

namespace {

// The q-quantile by the same definition (smallest value with at least q of
// the data at or below it), from sorted data.
std::uint64_t reference_quantile(const std::vector<std::uint64_t>& sorted, double q) {
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

std::vector<std::uint64_t> log_uniform(std::size_t n, double max_value, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> exp(0.0, std::log(max_value));
  std::vector<std::uint64_t> v(n);
  for (auto& x : v) x = static_cast<std::uint64_t>(std::exp(exp(rng)));
  return v;
}

constexpr double quantiles[] = {0.0001, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0};

}  // namespace

TEST_CASE("histogram percentiles match a sorted reference within the stated precision") {
  const double sixty_s_ns = 60e9;
  for (unsigned seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    std::vector<std::uint64_t> data = log_uniform(200000, sixty_s_ns, seed);
    histogram h;
    for (std::uint64_t v : data) h.record(v);
    std::sort(data.begin(), data.end());
    CHECK(h.count() == data.size());
    CHECK(h.max() == data.back());
    CHECK(h.min() == data.front());
    CHECK(h.clamped() == 0);
    for (double q : quantiles) {
      CAPTURE(q);
      const std::uint64_t exact = reference_quantile(data, q);
      const std::uint64_t got = h.quantile(q);
      CHECK(got >= exact);
      CHECK(static_cast<double>(got - exact) <= static_cast<double>(exact) * histogram::relative_precision);
    }
  }
}

TEST_CASE("histogram is exact below 2048 and keeps three significant digits above") {
  CHECK(histogram::relative_precision < 0.001);
  for (std::uint64_t v = 0; v < 2048; ++v) CHECK(histogram::highest_equivalent(histogram::index_of(v)) == v);
  // Bucket bounds are monotonic and every value maps into a bucket whose
  // highest equivalent is at or just above it.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const std::uint64_t v = rng() & histogram::max_value;
    const std::size_t idx = histogram::index_of(v);
    REQUIRE(idx < histogram::bucket_count);
    const std::uint64_t hi = histogram::highest_equivalent(idx);
    CHECK(hi >= v);
    CHECK(static_cast<double>(hi - v) <= static_cast<double>(v) * histogram::relative_precision);
    if (idx > 0) CHECK(histogram::highest_equivalent(idx - 1) < v);
  }
  CHECK(histogram::index_of(histogram::max_value) == histogram::bucket_count - 1);
}

TEST_CASE("histogram clamps values past max_value and counts them") {
  histogram h;
  h.record(histogram::max_value + 12345);
  h.record(5);
  CHECK(h.clamped() == 1);
  CHECK(h.max() == histogram::max_value);
  CHECK(h.quantile(1.0) == histogram::max_value);
  CHECK(h.quantile(0.5) == 5);
}

TEST_CASE("an empty histogram reports zeros") {
  histogram h;
  CHECK(h.count() == 0);
  CHECK(h.quantile(0.99) == 0);
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  CHECK(h.mean() == 0.0);
}

TEST_CASE("merged histograms equal one histogram of all the values") {
  const std::vector<std::uint64_t> a = log_uniform(50000, 1e9, 11);
  const std::vector<std::uint64_t> b = log_uniform(50000, 1e7, 12);
  histogram ha, hb, all;
  for (auto v : a) {
    ha.record(v);
    all.record(v);
  }
  for (auto v : b) {
    hb.record(v);
    all.record(v);
  }
  ha.merge(hb);
  CHECK(ha.count() == all.count());
  CHECK(ha.max() == all.max());
  CHECK(ha.min() == all.min());
  CHECK(ha.mean() == doctest::Approx(all.mean()));
  for (double q : quantiles) CHECK(ha.quantile(q) == all.quantile(q));
  ha.clear();
  CHECK(ha.count() == 0);
  CHECK(ha.quantile(0.5) == 0);
}

TEST_CASE("a percentile never reports more than the exact max") {
  histogram h;
  h.record(1'000'001);  // its bucket's highest equivalent is above it
  CHECK(h.quantile(0.5) == 1'000'001);
  CHECK(h.quantile(1.0) == 1'000'001);
}
