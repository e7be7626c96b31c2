// SPDX-License-Identifier: Apache-2.0
// The per-shard event ring: a bounded single-producer / single-consumer byte
// ring of variable-size records (one accepted event's JSON each).
//
// The producer is the shard's reactor thread; the consumer is whoever forwards
// the shard's events (the output thread today, the shard's upstream client
// later). A request's events are reserved one by one and published together by
// commit(), or dropped together by rollback(), so a request is admitted whole or
// not at all. The consumer reads records at increasing positions and frees
// space with release(); reading and releasing are separate so a consumer can
// keep events until the upstream has acknowledged them.
//
// Memory is reserved at construction but touched only as records need it:
// while the consumer keeps up, the producer goes back to offset 0 once it is
// past `window_bytes` and the ring is empty (an early wrap), so a shard under
// steady load keeps faulting in and holding only its window, and pages a burst
// touched beyond it are given back to the kernel at the next early wrap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace tg::ring {

class event_ring {
 public:
  // Records are framed with an 8-byte header and padded to 8 bytes.
  static constexpr std::size_t header_bytes = 8;
  static constexpr std::size_t max_record_bytes = 0xFFFFFFF0u;
  static constexpr std::uint32_t wrap_marker = 0xFFFFFFFFu;  // header length of the skip at the buffer's end

  // The span reused while the consumer keeps up (see the file comment).
  static constexpr std::size_t default_window_bytes = 2u << 20;

  // capacity is rounded up to a multiple of 8 (minimum 4 KiB). window_bytes
  // at or above capacity: no early wraps (the ring is used end to end).
  explicit event_ring(std::size_t capacity_bytes, std::size_t window_bytes = default_window_bytes);
  ~event_ring();
  event_ring(const event_ring&) = delete;
  event_ring& operator=(const event_ring&) = delete;

  // ---- producer (one thread) ----
  // Space for one record of n bytes, not yet visible to the consumer; nullptr
  // when the ring has no room for it behind what is already reserved.
  char* try_reserve(std::size_t n) noexcept;
  // Makes every reservation since the last commit()/rollback() visible.
  void commit() noexcept;
  // Called now and then (the shard's tick): when nothing was reserved since
  // the last call and every record is released, gives the pages above the
  // window back, so memory a burst took returns while no load comes; under
  // load that never lets the ring empty, gives back the released pages the
  // producer will not reach within the next window.
  void trim() noexcept;
  // Forgets every reservation since the last commit()/rollback().
  void rollback() noexcept;
  // Position just after the last committed record: a request admitted by the
  // last commit() is delivered once read_begin() reaches this.
  std::uint64_t committed_end() const noexcept { return head_.load(std::memory_order_relaxed); }
  // Bytes a record of n payload bytes takes in the ring (header and padding
  // included, not counting wrap-around waste).
  static std::size_t footprint(std::size_t n) noexcept { return header_bytes + ((n + 7) & ~std::size_t{7}); }

  // ---- consumer (one thread) ----
  struct record {
    std::span<const char> bytes;
    std::uint64_t next = 0;  // position of the record after this one
  };
  // Position of the oldest record not yet released.
  std::uint64_t read_begin() const noexcept { return tail_.load(std::memory_order_relaxed); }
  // The record at `pos` if one is published there; false when pos is the end.
  // Inline: consumers call it once or twice per event.
  bool read(std::uint64_t pos, record& out) const noexcept {
    // acquire: pairs with commit(), so the bytes before head are visible,
    // and so is the tail an early wrap moved before that head was stored.
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    if (pos >= head) return false;
    // A cursor left before an early wrap's skip (the producer moved tail
    // past it) goes on at the first record after it.
    const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (pos < tail) {
      pos = tail;
      if (pos >= head) return false;
    }
    std::size_t off = pos % capacity_;
    std::uint32_t len;
    std::memcpy(&len, data_ + off, sizeof len);
    if (len == wrap_marker) {
      pos += capacity_ - off;
      off = 0;
      std::memcpy(&len, data_, sizeof len);
    }
    out.bytes = {data_ + off + header_bytes, len};
    out.next = pos + footprint(len);
    return true;
  }
  // Frees every record before `pos` (a position read() returned as next).
  // Never moves the tail back (an early wrap may have moved it past `pos`).
  void release(std::uint64_t pos) noexcept;

  // ---- either side, approximate when read from the other thread ----
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t used_bytes() const noexcept;
  bool empty() const noexcept;
  // Producer side: the highest offset written since the last give-back, i.e.
  // how much of the buffer the ring holds in memory at most.
  std::size_t touched_bytes() const noexcept { return touched_; }
  // Bytes of the buffer in memory now (mincore(2); a system call and a walk
  // over the page table: for tests and diagnostics, not the hot path).
  std::size_t resident_bytes() const;
  // Producer side: how many times pages were given back.
  std::uint64_t give_backs() const noexcept { return give_backs_; }

 private:
  void skip_to_start(std::size_t off) noexcept;
  bool move_tail_over_skip() noexcept;
  void give_back_behind() noexcept;
  void give_back_above(std::size_t keep, std::size_t factor) noexcept;

  std::size_t capacity_;
  std::size_t window_;
  char* data_;                                       // mmap'd, capacity_ bytes
  std::size_t touched_ = 0;                          // producer only: see touched_bytes()
  std::uint64_t skip_from_ = 0;                      // producer only: an early wrap's skip, until commit()
  std::uint64_t skip_to_ = 0;                        //   (0: none)
  std::size_t lap_hi_ = 0;                           // producer only: recent laps' length (decaying max, per trim())
  std::size_t lap_tick_ = 0;                         // producer only: the longest lap since the last trim()
  bool reserved_since_trim_ = false;                 // producer only
  std::uint64_t give_backs_ = 0;
  // Each side's index on its own cache line, so the two threads don't share one.
  alignas(64) std::atomic<std::uint64_t> head_{0};  // published by the producer
  std::uint64_t reserve_ = 0;                        // producer only: end of reservations
  std::uint64_t tail_cache_ = 0;                     // producer only: last tail seen
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // released by the consumer
  char pad_[64 - sizeof(std::atomic<std::uint64_t>)];
};

}  // namespace tg::ring
