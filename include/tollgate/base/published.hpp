// SPDX-License-Identifier: Apache-2.0
// A configuration that one thread replaces (the main thread, on SIGHUP) and
// many read (the shards). The writer publishes a new immutable value under a
// mutex and bumps a generation; each reader keeps its own copy of the pointer
// and compares generations with one atomic load (a plain load on x86) per use, taking
// the mutex only on the rare use after a change. So the hot path takes no
// lock, and a value lives as long as any reader still holds it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace tg {

template <class T>
class published {
 public:
  published() = default;
  explicit published(std::shared_ptr<const T> v) : v_(std::move(v)) {}
  published(const published&) = delete;
  published& operator=(const published&) = delete;

  void publish(std::shared_ptr<const T> v) {
    std::lock_guard<std::mutex> lock(m_);
    v_ = std::move(v);
    gen_.fetch_add(1, std::memory_order_release);
  }
  std::uint64_t generation() const noexcept { return gen_.load(std::memory_order_acquire); }
  std::shared_ptr<const T> get() const {
    std::lock_guard<std::mutex> lock(m_);
    return v_;
  }

 private:
  mutable std::mutex m_;
  std::shared_ptr<const T> v_;
  std::atomic<std::uint64_t> gen_{1};
};

// One reader's view (one per shard, used on that shard's thread only).
template <class T>
class subscription {
 public:
  explicit subscription(const published<T>* src = nullptr) : src_(src) {}
  // The current value (null when none was published, or no source).
  const T* get() {
    if (src_ == nullptr) return nullptr;
    const std::uint64_t g = src_->generation();
    if (g != seen_) {
      cur_ = src_->get();
      seen_ = g;
    }
    return cur_.get();
  }
  // The generation of the value get() returned last (changes with every publish).
  std::uint64_t generation() const noexcept { return seen_; }
  // The value as a shared pointer, for what must outlive a reload (a TLS
  // connection keeps the context it started with).
  std::shared_ptr<const T> share() {
    get();
    return cur_;
  }

 private:
  const published<T>* src_;
  std::shared_ptr<const T> cur_;
  std::uint64_t seen_ = 0;
};

}  // namespace tg
