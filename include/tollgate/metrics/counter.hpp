// SPDX-License-Identifier: Apache-2.0
// Single-writer metric primitives: the owning thread updates with a relaxed
// load + store (no locked instruction), any thread may read a snapshot.
#pragma once

#include <atomic>
#include <cstdint>

namespace tg::metrics {

// Single-writer counter: the owner increments, anyone may read.
class counter {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Single-writer gauge.
class gauge {
 public:
  void set(std::int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) noexcept { v_.store(v_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed); }
  std::int64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

}  // namespace tg::metrics
