// SPDX-License-Identifier: Apache-2.0
// SPSC record ring. Positions grow without bound (64 bits never wrap in
// practice); offset = pos % capacity. A record that would cross the end of the
// buffer is preceded by a wrap marker and placed at offset 0 instead, so every
// record is contiguous and can be handed to write(2) or simdjson as one span.
// Early wraps (past the window, ring empty) skip to offset 0 the same way, and
// the producer moves the tail over the skip so it never counts as used.
#include "tollgate/ring/event_ring.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

namespace tg::ring {
namespace {

std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

std::size_t page_size() {
  static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}

// Pages are faulted in by the first write to them, not here: a ring that is
// never filled never costs its capacity in memory.
char* map_buffer(std::size_t n) {
  void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(p);
}
}  // namespace

event_ring::event_ring(std::size_t capacity_bytes, std::size_t window_bytes)
    : capacity_(round8(capacity_bytes < 4096 ? 4096 : capacity_bytes)),
      window_(window_bytes),
      data_(map_buffer(capacity_)) {
  (void)pad_;
}

event_ring::~event_ring() { ::munmap(data_, capacity_); }

char* event_ring::try_reserve(std::size_t n) noexcept {
  if (n > max_record_bytes) return nullptr;
  const std::size_t need = footprint(n);
  std::size_t off = reserve_ % capacity_;
  // Early wrap, decided at a request's first record: past the window with
  // every record released, the next ones go to offset 0 and the pages behind
  // stay as they are (cold, or given back after a burst). The skip is
  // accounted as free at once: nothing lies in it.
  if (off >= window_ && off != 0 && skip_to_ == 0 && reserve_ == head_.load(std::memory_order_relaxed)) {
    // acquire: the consumer is done with what it released.
    tail_cache_ = tail_.load(std::memory_order_acquire);
    if (tail_cache_ == reserve_) {
      if (off > lap_tick_) lap_tick_ = off;
      skip_to_start(off);
      off = 0;
    }
  }
  const std::size_t waste = (off + need > capacity_) ? capacity_ - off : 0;
  if (need + waste > capacity_) return nullptr;
  if (reserve_ + waste + need - tail_cache_ > capacity_) {
    // acquire: the consumer is done reading the bytes it released.
    tail_cache_ = tail_.load(std::memory_order_acquire);
    if (skip_to_ != 0 && tail_cache_ < skip_to_) tail_cache_ = skip_to_;  // the skip is free (see above)
    if (reserve_ + waste + need - tail_cache_ > capacity_) return nullptr;
  }
  if (waste != 0) {
    std::uint32_t marker = wrap_marker;
    std::memcpy(data_ + off, &marker, sizeof marker);
    reserve_ += waste;
    off = 0;
  }
  char* rec = data_ + off;
  std::uint32_t len = static_cast<std::uint32_t>(n);
  std::uint32_t zero = 0;
  std::memcpy(rec, &len, sizeof len);
  std::memcpy(rec + 4, &zero, sizeof zero);
  reserve_ += need;
  if (off + need > touched_) touched_ = off + need;
  reserved_since_trim_ = true;
  return rec + header_bytes;
}

void event_ring::commit() noexcept {
  if (skip_to_ != 0) {
    const std::size_t live = static_cast<std::size_t>(reserve_ - skip_to_);  // this request's bytes, from 0
    if (move_tail_over_skip()) give_back_above(std::max({window_, lap_hi_, lap_tick_, live}), 2);
  }
  // release: the record bytes are written before the consumer can see head.
  head_.store(reserve_, std::memory_order_release);
}

// An early wrap from offset `off` of an empty ring: a wrap marker there, and
// the producer goes on at offset 0 of the next lap; the skipped bytes count
// as free (move_tail_over_skip() makes it so for the consumer).
void event_ring::skip_to_start(std::size_t off) noexcept {
  std::uint32_t marker = wrap_marker;
  std::memcpy(data_ + off, &marker, sizeof marker);
  skip_from_ = reserve_;
  reserve_ += capacity_ - off;
  skip_to_ = reserve_;
  tail_cache_ = reserve_;
}

// The tail moves over the skip before head is published: a consumer that
// sees the new head sees the new tail too (read() starts a stale cursor
// there), and the skip never shows in used_bytes(). Only the consumer's
// release() moves the tail otherwise, never back and never past head, which
// was skip_from_ when the ring was found empty: the exchange holds.
bool event_ring::move_tail_over_skip() noexcept {
  std::uint64_t expect = skip_from_;
  const bool moved = tail_.compare_exchange_strong(expect, skip_to_, std::memory_order_acq_rel);
  skip_from_ = skip_to_ = 0;
  return moved;
}

void event_ring::rollback() noexcept {
  reserve_ = head_.load(std::memory_order_relaxed);
  if (skip_to_ != 0) {
    tail_cache_ = skip_from_;
    skip_from_ = skip_to_ = 0;
  }
  if (tail_cache_ > reserve_) tail_cache_ = reserve_;
}

// Once more than `factor` times what laps use now was touched (`keep`: the
// window, recent laps, or the records just written from offset 0), the pages
// beyond `keep` go back to the kernel: the early wrap just made them free,
// and the consumer reads nothing there (every record before the skip is
// released). Below that the pages stay, so a steady load whose laps vary a
// little does not fault the same pages in again and again.
void event_ring::give_back_above(std::size_t keep, std::size_t factor) noexcept {
  if (touched_ <= factor * keep) return;
  const std::size_t page = page_size();
  const std::size_t from = (keep + page - 1) & ~(page - 1);
  std::size_t to = (touched_ + page - 1) & ~(page - 1);
  if (to > capacity_) to = capacity_;
  if (to > from && ::madvise(data_ + from, to - from, MADV_DONTNEED) == 0) {
    ++give_backs_;
    touched_ = keep;
  }
}

// Recent laps' length forgets a burst by an eighth per call (per tick: a
// burst's pages go back within a second or two of load that needs less).
// Idle since the last call and empty: an early wrap without a record, so the
// pages a burst left behind go back even when no further request comes.
void event_ring::trim() noexcept {
  lap_hi_ = std::max(lap_tick_, lap_hi_ - lap_hi_ / 8);
  lap_tick_ = 0;
  const bool idle = !reserved_since_trim_;
  reserved_since_trim_ = false;
  if (!idle) {
    give_back_behind();
    return;
  }
  if (touched_ <= window_ || skip_to_ != 0 || reserve_ != head_.load(std::memory_order_relaxed)) return;
  const std::size_t off = reserve_ % capacity_;
  if (off == 0 || tail_.load(std::memory_order_acquire) != reserve_) return;
  skip_to_start(off);
  lap_hi_ = 0;
  if (move_tail_over_skip()) give_back_above(window_, 1);
  head_.store(reserve_, std::memory_order_release);
}

// Under load that never lets the ring empty (a consumer that keeps batches in
// flight), the producer goes round the whole buffer and early wraps never
// come. The released bytes it will not reach within the next window are
// given back then, so memory stays near what is held plus two windows. They
// are faulted in again on the next lap: that costs a page fault per 4 KiB
// written, taken only in this mode (a ring that empties reuses its window).
void event_ring::give_back_behind() noexcept {
  if (touched_ <= 2 * window_ || skip_to_ != 0) return;
  const std::uint64_t tail = tail_.load(std::memory_order_acquire);
  // Only while at most half of it is held: a ring kept near full (the output
  // is the bottleneck) holds its events anyway, and dropping its few free
  // pages would only fault them in again.
  if (reserve_ < tail || reserve_ - tail > capacity_ / 2) return;
  // Free, in ring order: from the producer's next write to the tail. Keep the
  // window after the producer (written next) and the one at offset 0 (where
  // an early wrap starts).
  const std::uint64_t from = reserve_ + window_;
  const std::uint64_t to = tail + capacity_;
  if (from >= to) return;
  const std::size_t page = page_size();
  bool gave = false;
  auto drop = [&](std::size_t a, std::size_t b) {  // offsets, a < b <= capacity
    if (a < window_) a = window_;
    if (b > touched_) b = touched_;  // never written since the last give-back: nothing to drop
    a = (a + page - 1) & ~(page - 1);
    b &= ~(page - 1);
    if (b >= a + (1u << 20) && ::madvise(data_ + a, b - a, MADV_DONTNEED) == 0) gave = true;
  };
  const std::size_t a = static_cast<std::size_t>(from % capacity_);
  const std::size_t n = static_cast<std::size_t>(to - from);
  if (a + n <= capacity_) {
    drop(a, a + n);
  } else {
    drop(a, capacity_);
    drop(0, a + n - capacity_);
  }
  if (gave) ++give_backs_;
}

std::size_t event_ring::resident_bytes() const {
  const std::size_t page = page_size();
  std::vector<unsigned char> in((capacity_ + page - 1) / page);
  if (::mincore(data_, capacity_, in.data()) != 0) return 0;
  std::size_t n = 0;
  for (unsigned char c : in) n += c & 1;
  return n * page;
}

void event_ring::release(std::uint64_t pos) noexcept {
  // release: our reads of the freed bytes happen before the producer reuses
  // them. Monotonic: an early wrap may have moved the tail past pos.
  std::uint64_t cur = tail_.load(std::memory_order_relaxed);
  while (cur < pos && !tail_.compare_exchange_weak(cur, pos, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

std::size_t event_ring::used_bytes() const noexcept {
  const std::uint64_t head = head_.load(std::memory_order_acquire);
  const std::uint64_t tail = tail_.load(std::memory_order_acquire);
  return head > tail ? static_cast<std::size_t>(head - tail) : 0;
}

bool event_ring::empty() const noexcept {
  return head_.load(std::memory_order_acquire) <= tail_.load(std::memory_order_acquire);
}

}  // namespace tg::ring
