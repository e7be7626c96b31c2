// SPDX-License-Identifier: Apache-2.0
// Accept-and-close into a direct descriptor: the accept and the close of its
// slot go in one submission, linked, so each connection shed costs one
// io_uring_enter and the slot is free again when both have completed.
#include "backlog_shedder.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "tollgate/reactor/uring.hpp"

namespace tg::server {
namespace {
constexpr std::uint64_t accept_op = 1;
constexpr std::uint64_t close_op = 2;
}  // namespace

backlog_shedder::backlog_shedder() {
  int rc = io_uring_queue_init(4, &ring_, 0);
  if (rc == 0) {
    rc = io_uring_register_files_sparse(&ring_, 1);
    if (rc == 0) return;
    io_uring_queue_exit(&ring_);
  }
  throw reactor::unsupported(std::string("no io_uring file table for shedding connections (kernel 5.19+ needed): ") +
                             std::strerror(-rc));
}

backlog_shedder::~backlog_shedder() { io_uring_queue_exit(&ring_); }

unsigned backlog_shedder::shed(int listen_fd, unsigned max) {
  unsigned n = 0;
  while (n < max) {
    // The listener is this shard's own socket in the SO_REUSEPORT group:
    // nobody else accepts from it, so what poll saw waiting is still there
    // and the accept below does not wait.
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) break;
    io_uring_sqe* a = io_uring_get_sqe(&ring_);
    io_uring_prep_accept_direct(a, listen_fd, nullptr, nullptr, 0, 0);
    io_uring_sqe_set_data64(a, accept_op);
    a->flags |= IOSQE_IO_LINK;
    io_uring_sqe* c = io_uring_get_sqe(&ring_);
    io_uring_prep_close_direct(c, 0);  // run after the accept; cancelled if it failed
    io_uring_sqe_set_data64(c, close_op);
    if (io_uring_submit(&ring_) != 2) break;
    bool accepted = false;
    for (int left = 2; left > 0;) {
      io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_wait_cqe(&ring_, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) return n;
      if (cqe->user_data == accept_op) accepted = cqe->res >= 0;
      io_uring_cqe_seen(&ring_, cqe);
      --left;
    }
    if (!accepted) break;
    ++n;
  }
  return n;
}

}  // namespace tg::server
