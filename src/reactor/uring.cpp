// SPDX-License-Identifier: Apache-2.0
// io_uring set-up with feature fallback, and the provided-buffer ring.
// DEFER_TASKRUN (6.1) runs completion work only when this thread waits, which
// keeps it off other threads' time and batches it; SINGLE_ISSUER (6.0) is its
// precondition. COOP_TASKRUN (5.19) avoids IPIs. Older kernels get plain rings.
#include "tollgate/reactor/uring.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace tg::reactor {

uring::uring(const uring_options& opts) {
  struct attempt {
    unsigned flags;
    const char* name;
  };
  const attempt attempts[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN,
       "single_issuer+defer_taskrun+coop_taskrun"},
      {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
      {0, "plain"},
  };
  int last = 0;
  for (const attempt& a : attempts) {
    io_uring_params p{};
    p.flags = a.flags | IORING_SETUP_CQSIZE;
    p.cq_entries = opts.entries * 4;
    last = io_uring_queue_init_params(opts.entries, &ring_, &p);
    if (last == 0) {
      mode_ = a.name;
      return;
    }
    if (last == -ENOSYS || last == -EPERM) break;  // no io_uring at all here
  }
  throw unsupported(std::string("io_uring_queue_init failed: ") + std::strerror(-last));
}

uring::~uring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* uring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

int uring::submit_and_wait(unsigned wait_nr) { return io_uring_submit_and_wait(&ring_, wait_nr); }

int uring::submit() { return io_uring_submit(&ring_); }

int uring::submit_and_wait_us(unsigned long us) {
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(us / 1000000);
  ts.tv_nsec = static_cast<long long>(us % 1000000) * 1000LL;
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

buffer_ring::buffer_ring(uring& ring, std::uint16_t group, unsigned count, unsigned size, unsigned padding)
    : ring_(ring), group_(group), count_(count), size_(size), stride_(std::size_t{size} + padding) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    throw std::invalid_argument("buffer ring count must be a power of two up to 32768");
  }
  br_bytes_ = count * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, br_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap of buffer ring failed");
  br_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(br_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(ring_.raw(), &reg, 0);
  if (rc != 0) {
    ::munmap(br_, br_bytes_);
    throw unsupported(std::string("io_uring_register_buf_ring failed (kernel 5.19+ needed): ") +
                      std::strerror(-rc));
  }
  data_bytes_ = static_cast<std::size_t>(count) * stride_;
  void* data = ::mmap(nullptr, data_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (data == MAP_FAILED) throw std::runtime_error("mmap of receive buffers failed");
  data_ = static_cast<char*>(data);
  for (unsigned i = 0; i < count; ++i) give_back(static_cast<std::uint16_t>(i));
  publish();
}

buffer_ring::~buffer_ring() {
  io_uring_unregister_buf_ring(ring_.raw(), group_);
  ::munmap(br_, br_bytes_);
  ::munmap(data_, data_bytes_);
}

void buffer_ring::give_back(std::uint16_t bid) noexcept {
  io_uring_buf_ring_add(br_, buffer(bid), size_, bid, io_uring_buf_ring_mask(count_), static_cast<int>(pending_));
  ++pending_;
}

void buffer_ring::publish() noexcept {
  if (pending_ == 0) return;
  io_uring_buf_ring_advance(br_, static_cast<int>(pending_));
  pending_ = 0;
}

}  // namespace tg::reactor
