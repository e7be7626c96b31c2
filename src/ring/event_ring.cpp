// SPDX-License-Identifier: Apache-2.0
// SPSC record ring. Positions grow without bound (64 bits never wrap in
// practice); offset = pos % capacity. A record that would cross the end of the
// buffer is preceded by a wrap marker and placed at offset 0 instead, so every
// record is contiguous and can be handed to write(2) or simdjson as one span.
#include "tollgate/ring/event_ring.hpp"

#include <cstring>

namespace tg::ring {
namespace {

std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
}  // namespace

event_ring::event_ring(std::size_t capacity_bytes)
    : capacity_(round8(capacity_bytes < 4096 ? 4096 : capacity_bytes)),
      data_(new char[capacity_]) {
  (void)pad_;
}

event_ring::~event_ring() = default;

char* event_ring::try_reserve(std::size_t n) noexcept {
  if (n > max_record_bytes) return nullptr;
  const std::size_t need = footprint(n);
  const std::size_t off = reserve_ % capacity_;
  const std::size_t waste = (off + need > capacity_) ? capacity_ - off : 0;
  if (need + waste > capacity_) return nullptr;
  if (reserve_ + waste + need - tail_cache_ > capacity_) {
    // acquire: the consumer is done reading the bytes it released.
    tail_cache_ = tail_.load(std::memory_order_acquire);
    if (reserve_ + waste + need - tail_cache_ > capacity_) return nullptr;
  }
  if (waste != 0) {
    std::uint32_t marker = wrap_marker;
    std::memcpy(data_.get() + off, &marker, sizeof marker);
    reserve_ += waste;
  }
  char* rec = data_.get() + reserve_ % capacity_;
  std::uint32_t len = static_cast<std::uint32_t>(n);
  std::uint32_t zero = 0;
  std::memcpy(rec, &len, sizeof len);
  std::memcpy(rec + 4, &zero, sizeof zero);
  reserve_ += need;
  return rec + header_bytes;
}

void event_ring::commit() noexcept {
  // release: the record bytes are written before the consumer can see head.
  head_.store(reserve_, std::memory_order_release);
}

void event_ring::rollback() noexcept { reserve_ = head_.load(std::memory_order_relaxed); }

void event_ring::release(std::uint64_t pos) noexcept {
  // release: our reads of the freed bytes happen before the producer reuses them.
  tail_.store(pos, std::memory_order_release);
}

std::size_t event_ring::used_bytes() const noexcept {
  const std::uint64_t head = head_.load(std::memory_order_acquire);
  const std::uint64_t tail = tail_.load(std::memory_order_acquire);
  return head > tail ? static_cast<std::size_t>(head - tail) : 0;
}

bool event_ring::empty() const noexcept {
  return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
}

}  // namespace tg::ring
