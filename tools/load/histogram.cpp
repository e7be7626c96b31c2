// SPDX-License-Identifier: Apache-2.0
// Bucket arithmetic: values below 2^B (B = sub_bucket_bits) index themselves;
// a larger value with bit width w keeps its top B bits (a mantissa in
// [2^(B-1), 2^B)) and goes to the half-range of buckets for exponent w - B.
#include "histogram.hpp"

#include <bit>

namespace tg::load {
namespace {
constexpr std::uint64_t linear_limit = std::uint64_t{1} << histogram::sub_bucket_bits;
constexpr std::uint64_t half = linear_limit / 2;
}  // namespace

histogram::histogram() : counts_(bucket_count, 0) {}

std::size_t histogram::index_of(std::uint64_t v) noexcept {
  if (v < linear_limit) return static_cast<std::size_t>(v);
  const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - sub_bucket_bits;  // >= 1
  const std::uint64_t mantissa = v >> shift;                                          // [half, 2*half)
  return static_cast<std::size_t>(linear_limit + (shift - 1) * half + (mantissa - half));
}

std::uint64_t histogram::highest_equivalent(std::size_t index) noexcept {
  if (index < linear_limit) return index;
  const std::uint64_t rel = index - linear_limit;
  const unsigned shift = static_cast<unsigned>(rel / half) + 1;
  const std::uint64_t mantissa = half + rel % half;
  return ((mantissa + 1) << shift) - 1;
}

void histogram::record(std::uint64_t v) noexcept {
  if (v > max_value) {
    v = max_value;
    ++clamped_;
  }
  ++counts_[index_of(v)];
  ++count_;
  sum_ += v;
  if (v < min_) min_ = v;
  if (v > max_) max_ = v;
}

void histogram::merge(const histogram& o) noexcept {
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  clamped_ += o.clamped_;
  if (o.count_ != 0 && o.min_ < min_) min_ = o.min_;
  if (o.max_ > max_) max_ = o.max_;
}

void histogram::clear() noexcept {
  for (std::uint64_t& c : counts_) c = 0;
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  clamped_ = 0;
  sum_ = 0;
}

std::uint64_t histogram::quantile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (q <= 0.0) return min_;
  // Rank of the wanted value, 1-based: ceil(q * count), at least 1.
  auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_));
  if (static_cast<double>(rank) < q * static_cast<double>(count_)) ++rank;
  if (rank == 0) rank = 1;
  if (rank > count_) rank = count_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t v = highest_equivalent(i);
      return v < max_ ? v : max_;
    }
  }
  return max_;
}

}  // namespace tg::load
