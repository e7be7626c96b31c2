// SPDX-License-Identifier: Apache-2.0
// One keep-alive connection from a shard to the upstream, driven by the
// shard's io_uring: connect, optional TLS over memory BIOs, one request at a
// time, response parsed with llhttp. It knows nothing of batches: its owner
// (the forwarder) hands it request bytes and hears back through link_owner.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/http/response_parser.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"
#include "tollgate/upstream/tls_session.hpp"

namespace tg::upstream {

class link;

enum class failure : std::uint8_t {
  connect,   // TCP connect failed
  tls,       // TLS handshake failed (certificate, host name, protocol)
  network,   // send/recv error or reset
  timeout,   // connect, handshake or response deadline passed
  protocol,  // the upstream's response did not parse
  closed,    // the upstream closed the connection
};
const char* failure_name(failure f) noexcept;

class link_owner {
 public:
  virtual ~link_owner() = default;
  // Connected (and handshaken): send() may be called.
  virtual void link_ready(link& l) = 0;
  // The complete response to the request in flight. The link is ready again
  // (unless the response closed the connection) when this is called.
  virtual void link_response(link& l, const http::response& r) = 0;
  // The link is closing; a request in flight (busy()) got no answer.
  virtual void link_failed(link& l, failure f, std::string_view why, bool had_request) = 0;
};

class link {
 public:
  enum class state : std::uint8_t { closed, connecting, handshaking, ready, busy, closing };

  link(std::uint32_t slot, reactor::uring& ring, link_owner& owner, tls_context* tls, std::string server_name);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  void connect(const sockaddr_storage& addr, socklen_t len, std::uint64_t deadline_ms);
  // Sends one request (takes the bytes; the buffer comes back to the caller's
  // pool on the next send). Only when ready().
  void send(std::string& request, std::uint64_t deadline_ms);
  // Closes; a request in flight fails with `f`.
  void fail(failure f, std::string_view why);

  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe);
  void check_deadline(std::uint64_t now_ms);

  state current() const noexcept { return st_; }
  bool ready() const noexcept { return st_ == state::ready; }
  bool closed() const noexcept { return st_ == state::closed; }
  std::uint32_t slot() const noexcept { return slot_; }

  // Owner's bookkeeping for the request in flight.
  std::uint64_t batch_id = 0;
  std::uint64_t sent_at_ns = 0;

 private:
  void pump();
  void on_bytes(const char* data, std::size_t len);
  bool feed_plain(const char* data, std::size_t len);
  void maybe_release();
  void submit_send();
  void submit_recv();
  std::uint64_t tag(reactor::op o) const noexcept { return reactor::encode(o, slot_, gen_); }

  std::uint32_t slot_;
  std::uint32_t gen_ = 0;
  reactor::uring& ring_;
  link_owner& owner_;
  tls_context* tls_ctx_;
  std::string server_name_;

  state st_ = state::closed;
  int fd_ = -1;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  std::uint64_t deadline_ms_ = 0;
  bool connect_inflight_ = false;
  bool send_inflight_ = false;
  bool recv_inflight_ = false;

  std::unique_ptr<tls_session> tls_;
  std::string plain_;       // request bytes not yet given to TLS (TLS only)
  std::size_t plain_off_ = 0;
  std::string wire_;        // bytes for the socket (request, or TLS records)
  std::size_t wire_off_ = 0;
  std::string sending_;     // the buffer of the send in flight
  std::size_t sending_off_ = 0;
  static constexpr std::size_t recv_bytes = 16 * 1024;
  std::unique_ptr<char[]> rbuf_;
  http::response_parser parser_;
};

}  // namespace tg::upstream
