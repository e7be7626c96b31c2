// SPDX-License-Identifier: Apache-2.0
// The shared part of an outgoing connection: socket, connect, cancel, release.
#include "tollgate/reactor/client_socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

namespace tg::reactor {

client_socket::~client_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool client_socket::connect(const sockaddr_storage& addr, socklen_t len) {
  addr_ = addr;
  addr_len_ = len;
  fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_connect(s, fd_, reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
  io_uring_sqe_set_data64(s, user_data(op::connect));
  connect_ = true;
  return true;
}

bool client_socket::completed(const tag& t) noexcept {
  if (t.gen != gen_) return false;
  const op o = static_cast<op>(t.op);
  if (o == op::connect || o == op::send || o == op::recv) flag(o) = false;
  return true;
}

void client_socket::abort() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  for (op o : {op::connect, op::send, op::recv}) {
    if (!in_flight(o)) continue;
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_cancel64(s, user_data(o), 0);
    io_uring_sqe_set_data64(s, user_data(op::cancel));
  }
}

void client_socket::release() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  gen_ = (gen_ + 1) & generation_mask;
}

}  // namespace tg::reactor
