// SPDX-License-Identifier: Apache-2.0
// An outgoing TCP connection's part that every client on a shard's ring has
// alike: its descriptor, its slot's generation, which of its connect, send
// and receive is in flight, and the teardown that waits for all of them. The
// HTTP output's links and the pass-through's connections each own one and
// keep their protocol (TLS, framing, buffers) to themselves.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"

namespace tg::reactor {

class client_socket {
 public:
  // The operation codes of the owner's user_data (op::cancel's completions
  // are only acknowledgements).
  enum class op : std::uint8_t { connect = 1, send, recv, cancel };

  client_socket(std::uint32_t slot, uring& ring, const component& owner) noexcept
      : slot_(slot), ring_(ring), owner_(owner) {}
  ~client_socket();
  client_socket(const client_socket&) = delete;
  client_socket& operator=(const client_socket&) = delete;

  // Opens a non-blocking TCP socket (TCP_NODELAY) and submits its connect.
  // The address is kept here: the kernel reads it while the connect runs.
  // False, with errno set, when no socket could be had.
  bool connect(const sockaddr_storage& addr, socklen_t len);
  // The user_data of an SQE of this connection; submitted() once it is queued.
  std::uint64_t user_data(op o) const noexcept { return encode(owner_.id(), o, slot_, gen_); }
  void submitted(op o) noexcept { flag(o) = true; }
  // A completion: false when it belongs to an earlier connection of this
  // slot (the generation moves on only once none is in flight, but it is
  // checked rather than trusted with this connection's buffers); otherwise
  // the operation is no longer in flight.
  bool completed(const tag& t) noexcept;
  bool in_flight(op o) const noexcept { return o == op::connect ? connect_ : o == op::send ? send_ : recv_; }
  bool any_in_flight() const noexcept { return connect_ || send_ || recv_; }
  // Shuts the socket down and cancels whatever is in flight; release() once
  // nothing is.
  void abort();
  // Closes the descriptor and moves the generation on, so the slot can take
  // another connection. Only when !any_in_flight().
  void release() noexcept;

  int fd() const noexcept { return fd_; }
  std::uint32_t slot() const noexcept { return slot_; }

 private:
  bool& flag(op o) noexcept { return o == op::connect ? connect_ : o == op::send ? send_ : recv_; }

  std::uint32_t slot_;
  std::uint32_t gen_ = 0;
  uring& ring_;
  const component& owner_;
  int fd_ = -1;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  bool connect_ = false;
  bool send_ = false;
  bool recv_ = false;
};

}  // namespace tg::reactor
