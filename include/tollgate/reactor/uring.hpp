// SPDX-License-Identifier: Apache-2.0
// One io_uring per shard thread, and its provided-buffer ring for multishot
// recv. Owned and used by exactly one thread (the ring is set up with
// SINGLE_ISSUER where the kernel has it).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tg::reactor {

// Start-up failure that means "this kernel or sandbox has no usable io_uring".
struct unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct uring_options {
  unsigned entries = 4096;  // SQ size; the CQ is 4x that
};

class uring {
 public:
  // Tries SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN, then COOP_TASKRUN, then
  // no flags; mode() says which took. Throws unsupported when none works.
  explicit uring(const uring_options& opts = {});
  ~uring();
  uring(const uring&) = delete;
  uring& operator=(const uring&) = delete;

  // A free SQE; submits what is queued to make room when the SQ is full.
  io_uring_sqe* sqe();
  // Submits and waits for at least one completion (or the timeout, if any).
  int submit_and_wait(unsigned wait_nr = 1);
  int submit();
  // Submits and waits for one completion or `us` microseconds, whichever first.
  int submit_and_wait_us(unsigned long us);

  // Calls f(const io_uring_cqe&) for every ready completion, then advances the
  // CQ once for the batch. Returns how many were seen.
  template <class F>
  unsigned reap(F&& f) {
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      f(*cqe);
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    return n;
  }

  io_uring* raw() noexcept { return &ring_; }
  const char* mode() const noexcept { return mode_; }

 private:
  io_uring ring_{};
  const char* mode_ = "none";
};

// A provided-buffer ring (liburing 2.3 lacks io_uring_setup_buf_ring: we mmap
// the page-aligned ring ourselves and register it). Buffers are handed back with
// give_back() and published in one store by publish().
class buffer_ring {
 public:
  // count must be a power of two (<= 32768). Each buffer is followed by
  // `padding` bytes the kernel is never told about (so never writes): a
  // parser that reads a little past its input (simdjson) may read them.
  buffer_ring(uring& ring, std::uint16_t group, unsigned count, unsigned size, unsigned padding = 0);
  ~buffer_ring();
  buffer_ring(const buffer_ring&) = delete;
  buffer_ring& operator=(const buffer_ring&) = delete;

  std::uint16_t group() const noexcept { return group_; }
  unsigned buffer_size() const noexcept { return size_; }
  char* buffer(std::uint16_t bid) noexcept { return data_ + static_cast<std::size_t>(bid) * stride_; }
  void give_back(std::uint16_t bid) noexcept;
  void publish() noexcept;

 private:
  uring& ring_;
  io_uring_buf_ring* br_ = nullptr;
  std::size_t br_bytes_ = 0;
  char* data_ = nullptr;
  std::size_t data_bytes_ = 0;
  std::uint16_t group_;
  unsigned count_;
  unsigned size_;
  std::size_t stride_;  // size_ + padding
  unsigned pending_ = 0;
};

}  // namespace tg::reactor
