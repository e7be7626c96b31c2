// SPDX-License-Identifier: Apache-2.0
// A log-linear latency histogram (HdrHistogram's layout): 2^11 linear
// sub-buckets per power of two, so every recorded value is kept to within
// 1/1024 of itself (better than three significant digits) from 1 ns to ~73 min,
// in a fixed 270 KiB with O(1) recording. One per load thread; merged at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tg::load {

class histogram {
 public:
  // Values below 2^sub_bucket_bits are exact; above, the relative error of a
  // reported value is below 2^-(sub_bucket_bits - 1).
  static constexpr unsigned sub_bucket_bits = 11;
  static constexpr unsigned max_value_bits = 42;  // 2^42 ns ~ 73 minutes
  static constexpr std::uint64_t max_value = (std::uint64_t{1} << max_value_bits) - 1;
  static constexpr double relative_precision = 1.0 / (1u << (sub_bucket_bits - 1));

  histogram();

  // Values above max_value are recorded as max_value (and counted in clamped()).
  void record(std::uint64_t value) noexcept;
  void merge(const histogram& other) noexcept;
  void clear() noexcept;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  std::uint64_t max() const noexcept { return max_; }  // exact
  std::uint64_t clamped() const noexcept { return clamped_; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

  // The smallest recorded value v such that at least q (0..1] of the values
  // are <= v, reported as the highest value of its bucket (so latency is
  // never under-reported) and never above max(). 0 when empty.
  std::uint64_t quantile(double q) const noexcept;

  // Bucket layout, exposed for tests.
  static std::size_t index_of(std::uint64_t value) noexcept;
  static std::uint64_t highest_equivalent(std::size_t index) noexcept;
  static constexpr std::size_t bucket_count =
      (std::size_t{1} << sub_bucket_bits) + (max_value_bits - sub_bucket_bits) * (std::size_t{1} << (sub_bucket_bits - 1));

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  std::uint64_t clamped_ = 0;
  unsigned __int128 sum_ = 0;
};

}  // namespace tg::load
