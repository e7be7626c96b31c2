// SPDX-License-Identifier: Apache-2.0
// A fixed-bucket Prometheus histogram with one writer (its shard) and any
// number of readers (the /metrics scrape). Bucket bounds are chosen once, at
// compile time, per use; observe() is a short linear scan over them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tollgate/metrics/counter.hpp"


namespace tg::metrics {

template <std::size_t N>
class histogram {
 public:
  explicit constexpr histogram(const std::array<double, N>& bounds) : bounds_(bounds) {}

  void observe(double v) noexcept {
    std::size_t i = 0;
    while (i < N && v > bounds_[i]) ++i;
    buckets_[i].add();
    sum_micro_.add(static_cast<std::uint64_t>(v * 1e6));
  }

  const std::array<double, N>& bounds() const noexcept { return bounds_; }
  // Non-cumulative count of bucket i (i == N: above the last bound).
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].get(); }
  double sum() const noexcept { return static_cast<double>(sum_micro_.get()) / 1e6; }

 private:
  std::array<double, N> bounds_;
  std::array<counter, N + 1> buckets_{};
  counter sum_micro_;  // the sum, in millionths, so it stays an integer counter
};

}  // namespace tg::metrics
