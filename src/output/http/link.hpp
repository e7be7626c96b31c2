// SPDX-License-Identifier: Apache-2.0
// One keep-alive connection from a shard to the upstream, driven by the
// shard's io_uring: connect, optional TLS over memory BIOs, one request at a
// time, response parsed with llhttp. It knows nothing of batches: its owner
// (the forwarder) builds the request into the link's gather_request, joined
// into one buffer for a plain socket, or as pieces over the ring that TLS
// encrypts from where they lie into the session's send buffer, which is then
// sent as it is. A completion only changes the link's state and leaves news
// (a response, a failure) for the owner, which takes it in its next poll:
// the link never calls back into the forwarder.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/http/response_parser.hpp"
#include "tollgate/output/http/batch_request.hpp"
#include "tollgate/output/http/tls_session.hpp"
#include "tollgate/reactor/client_socket.hpp"
#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"

namespace tg::upstream {

enum class failure : std::uint8_t {
  connect,   // TCP connect failed
  tls,       // TLS handshake failed (certificate, host name, protocol)
  network,   // send/recv error or reset
  timeout,   // connect, handshake or response deadline passed
  protocol,  // the upstream's response did not parse
  closed,    // the upstream closed the connection
};
const char* failure_name(failure f) noexcept;

// What happened on a link since its owner last looked, oldest first.
struct link_news {
  enum class kind : std::uint8_t { response, failed };
  kind what = kind::response;
  std::uint64_t batch_id = 0;       // the request it concerns (0: none in flight)
  std::uint64_t sent_at_ns = 0;
  // response
  int status = 0;
  std::optional<std::string> retry_after;
  std::string body;                 // bounded by the response parser's limits
  // failed
  failure why = failure::closed;
  std::string detail;
  bool had_request = false;         // a request in flight got no answer
};

class link {
 public:
  enum class state : std::uint8_t { closed, connecting, handshaking, ready, busy, closing };

  // `owner`: the component whose id tags this link's operations.
  link(std::uint32_t slot, reactor::uring& ring, const reactor::component& owner, tls_context* tls,
       std::string server_name);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  void connect(const sockaddr_storage& addr, socklen_t len, std::uint64_t deadline_ms);
  // Where the owner builds the next request, only while ready(). Its pieces
  // must stay valid (the ring keeps them) until the response or a failure.
  gather_request& request() noexcept { return req_; }
  // Sends the request built in request(). Only when ready().
  void send(std::uint64_t deadline_ms);
  // Closes; a request in flight fails with `f`.
  void fail(failure f, std::string_view why);

  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe);
  void check_deadline(std::uint64_t now_ms);
  // News since the last call, oldest first (cleared by take_news()).
  bool has_news() const noexcept { return !news_.empty(); }
  std::vector<link_news>& news() noexcept { return news_; }

  // The operations a link submits, in the owner's user_data space.
  using op = reactor::client_socket::op;

  state current() const noexcept { return st_; }
  bool ready() const noexcept { return st_ == state::ready; }
  bool closed() const noexcept { return st_ == state::closed; }
  // Whether requests go through TLS (and so are best built as pieces).
  bool encrypted() const noexcept { return tls_ctx_ != nullptr; }
  std::uint32_t slot() const noexcept { return sock_.slot(); }

  // Owner's bookkeeping for the request in flight.
  std::uint64_t batch_id = 0;
  std::uint64_t sent_at_ns = 0;

 private:
  void pump();
  void on_bytes(const char* data, std::size_t len);
  void on_eof();
  std::optional<tls_status> drain_plaintext();
  void finish_by_close(std::string_view why);
  bool feed_plain(const char* data, std::size_t len);
  void maybe_release();
  void submit_send(std::span<const char> bytes);
  bool request_unsent() const noexcept;
  void submit_recv();
  link_news response_news(const http::response& r) const;
  void report_response(const http::response& r);
  void deliver_held();
  void report_failure(failure f, std::string_view why, bool had_request);

  reactor::uring& ring_;
  tls_context* tls_ctx_;
  std::string server_name_;

  reactor::client_socket sock_;
  state st_ = state::closed;
  std::uint64_t deadline_ms_ = 0;

  std::unique_ptr<tls_session> tls_;
  gather_request req_;      // the request: sent (plain) or encrypted (TLS) as it goes
  std::optional<link_news> held_;  // an answer that came before the whole request went out
  static constexpr std::size_t recv_bytes = 16 * 1024;
  // The TLS send buffer, which requests are encrypted into and sent from:
  // room for a default batch (500 events of ~260 bytes) and its record
  // overhead, so one goes out in one send rather than two or three.
  static constexpr std::size_t tls_send_buffer_bytes = 256 * 1024;
  std::unique_ptr<char[]> rbuf_;
  http::response_parser parser_;
  std::vector<link_news> news_;
};

}  // namespace tg::upstream
