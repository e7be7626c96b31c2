// SPDX-License-Identifier: Apache-2.0
// Intended times are computed from the request's sequence number each time,
// never accumulated, so rounding cannot drift over a long run: a double holds
// sequence * interval exactly enough (53 bits of ns is 104 days).
#include "rate_scheduler.hpp"

#include <cmath>

namespace tg::load {

rate_scheduler::rate_scheduler(double rate, std::uint32_t connections, std::uint64_t start_ns) noexcept
    : interval_ns_(1e9 / rate), connections_(connections == 0 ? 1 : connections), start_ns_(start_ns) {}

std::uint64_t rate_scheduler::intended(std::uint32_t conn, std::uint64_t k) const noexcept {
  const double offset = static_cast<double>(sequence(conn, k)) * interval_ns_;
  return start_ns_ + static_cast<std::uint64_t>(std::llround(offset));
}

std::uint64_t rate_scheduler::due_before(std::uint64_t end_ns) const noexcept {
  if (end_ns <= start_ns_) return 0;
  // Sequence numbers n with round(n * interval) < end - start.
  const double span = static_cast<double>(end_ns - start_ns_);
  auto n = static_cast<std::uint64_t>(std::ceil(span / interval_ns_));
  while (n > 0 && start_ns_ + static_cast<std::uint64_t>(std::llround(static_cast<double>(n - 1) * interval_ns_)) >= end_ns) --n;
  while (start_ns_ + static_cast<std::uint64_t>(std::llround(static_cast<double>(n) * interval_ns_)) < end_ns) ++n;
  return n;
}

}  // namespace tg::load
