// SPDX-License-Identifier: Apache-2.0
// One keep-alive connection of the pass-through's pool to the upstream, on
// the shard's io_uring: connect, TLS over memory BIOs (tls_session, as the
// HTTP output does), send bytes, receive plaintext into an inbox. It is
// transport only: the pass-through reads the inbox and speaks HTTP. A
// completion changes the connection's state and says what happened (the
// return value of on_cqe); it never calls anyone. Receiving can be switched
// off (back pressure: the client is slower than the upstream), so the
// upstream's TCP window fills instead of our memory.
// Lives on its shard's thread; touched by nothing else.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/output/http/tls_session.hpp"
#include "tollgate/reactor/client_socket.hpp"
#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/server/proxy_probe.hpp"

namespace tg::server {

class proxy_conn {
 public:
  enum class state : std::uint8_t { closed, connecting, handshaking, open, closing };
  enum class news : std::uint8_t { none, opened, data, eof, failed };
  using op = reactor::client_socket::op;

  // `tls`: null for http://. `server_name`: the host to verify (and send as SNI).
  proxy_conn(std::uint32_t slot, reactor::uring& ring, const reactor::component& owner,
             upstream::tls_context* tls, std::string server_name);
  ~proxy_conn();
  proxy_conn(const proxy_conn&) = delete;
  proxy_conn& operator=(const proxy_conn&) = delete;

  void connect(const sockaddr_storage& addr, socklen_t len);
  // Queues bytes to send (only when open).
  void send(std::string_view bytes);
  // Whether a recv should be armed while open (false: back pressure).
  void want_read(bool on);
  // A completion of this connection's operations.
  news on_cqe(const reactor::tag& t, const io_uring_cqe& cqe);
  // Closes (no news follows); the slot is reusable once closed() again.
  void close();

  state current() const noexcept { return st_; }
  bool closed() const noexcept { return st_ == state::closed; }
  bool open() const noexcept { return st_ == state::open; }
  // Everything queued was handed to the kernel and acknowledged.
  bool sent_all() const noexcept { return !sock_.in_flight(op::send) && wire_.empty() && plain_.empty(); }
  // Plaintext received and not yet taken by the caller.
  std::string& inbox() noexcept { return inbox_; }
  proxy_failure why() const noexcept { return why_; }
  const std::string& detail() const noexcept { return detail_; }
  std::uint32_t slot() const noexcept { return sock_.slot(); }

 private:
  news fail(proxy_failure f, std::string_view why);
  news pump();
  void submit_send();
  void submit_recv();
  void maybe_release();

  reactor::uring& ring_;
  upstream::tls_context* tls_ctx_;
  std::string server_name_;

  reactor::client_socket sock_;
  state st_ = state::closed;
  bool reading_ = true;

  std::unique_ptr<upstream::tls_session> tls_;
  std::string plain_;    // plaintext not yet given to TLS
  std::string wire_;     // bytes for the socket (plaintext, or TLS records)
  std::string sending_;  // the buffer of the send in flight (untouched while the kernel reads it)
  std::size_t sending_off_ = 0;
  std::string inbox_;
  static constexpr std::size_t recv_bytes = 16 * 1024;
  std::unique_ptr<char[]> rbuf_;
  proxy_failure why_ = proxy_failure::closed;
  std::string detail_;
};

}  // namespace tg::server
