// SPDX-License-Identifier: Apache-2.0
// Upstream link state machine. Every socket operation is an io_uring SQE
// tagged (op, slot, generation); the generation moves on only once the kernel
// holds no operation on the link's buffers, so a late completion can never
// land in a reused buffer. TLS runs over memory BIOs: the kernel only ever
// sees ciphertext we copied out of OpenSSL.
#include "link.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tg::upstream {

const char* failure_name(failure f) noexcept {
  switch (f) {
    case failure::connect: return "connect";
    case failure::tls: return "tls";
    case failure::network: return "network";
    case failure::timeout: return "timeout";
    case failure::protocol: return "protocol";
    case failure::closed: return "closed";
  }
  return "unknown";
}

link::link(std::uint32_t slot, reactor::uring& ring, const reactor::component& owner, tls_context* tls,
           std::string server_name)
    : ring_(ring), tls_ctx_(tls), server_name_(std::move(server_name)), sock_(slot, ring, owner),
      rbuf_(new char[recv_bytes]), parser_(http::response_limits{16 * 1024, 100, 64 * 1024, true}) {}

link::~link() = default;

void link::connect(const sockaddr_storage& addr, socklen_t len, std::uint64_t deadline_ms) {
  if (!sock_.connect(addr, len)) {
    st_ = state::closing;
    report_failure(failure::connect, std::strerror(errno), false);
    maybe_release();
    return;
  }
  deadline_ms_ = deadline_ms;
  st_ = state::connecting;
  parser_.reset();
}

void link::send(std::uint64_t deadline_ms) {
  st_ = state::busy;
  deadline_ms_ = deadline_ms;
  pump();
}

void link::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (!sock_.completed(t)) return;
  switch (static_cast<op>(t.op)) {
    case op::connect:
      if (st_ == state::closing) break;
      if (cqe.res < 0) {
        fail(failure::connect, std::strerror(-cqe.res));
        break;
      }
      if (tls_ctx_ != nullptr) {
        auto s = tls_session::create(*tls_ctx_, server_name_, tls_send_buffer_bytes);
        if (!s) {
          fail(failure::tls, s.error());
          break;
        }
        tls_ = std::move(s.value());
        st_ = state::handshaking;
        pump();
      } else {
        st_ = state::ready;
        deadline_ms_ = 0;
        pump();  // keep a recv armed while idle
      }
      break;
    case op::send:
      if (st_ == state::closing) break;
      if (cqe.res < 0) {
        fail(failure::network, std::strerror(-cqe.res));
        break;
      }
      // Short sends resume where the kernel stopped: the rest of the TLS
      // send buffer, or the rest of the request's pieces.
      if (tls_) tls_->consume_ciphertext(static_cast<std::size_t>(cqe.res));
      else req_.advance(static_cast<std::size_t>(cqe.res));
      pump();
      break;
    case op::recv:
      if (st_ == state::closing) break;
      if (cqe.res < 0) {
        fail(failure::network, std::strerror(-cqe.res));
      } else if (cqe.res == 0) {
        on_eof();
      } else {
        on_bytes(rbuf_.get(), static_cast<std::size_t>(cqe.res));
        if (st_ != state::closing) pump();
      }
      break;
    case op::cancel: break;
  }
  maybe_release();
}

void link::on_bytes(const char* data, std::size_t len) {
  if (!tls_) {
    feed_plain(data, len);
    return;
  }
  tls_->feed_ciphertext({data, len});
  if (st_ == state::handshaking) return;  // pump() drives the handshake
  // want_read / want_write: pump() moves any ciphertext out.
  if (const auto s = drain_plaintext(); s && *s == tls_status::error) fail(failure::tls, tls_->last_error());
}

// Hands every plaintext byte the session holds to the response parser.
// Returns the status the last read ended with, or nothing when the link is
// done with (the parser failed it, or a close_notify finished it).
std::optional<tls_status> link::drain_plaintext() {
  char plain[16 * 1024];
  for (;;) {
    std::size_t got = 0;
    const tls_status s = tls_->read(plain, sizeof plain, got);
    if (got > 0 && !feed_plain(plain, got)) return std::nullopt;
    if (s == tls_status::ok && got > 0) continue;
    if (s == tls_status::closed) {
      finish_by_close("upstream sent close_notify");
      return std::nullopt;
    }
    return s;
  }
}

// The upstream closed the connection. Over TLS only a close_notify ends the
// plaintext stream: a TCP close without one may be an attacker (or a broken
// middlebox) cutting the response short, so a response that only the close
// would delimit is not taken as complete (RFC 8446 6.1, RFC 9112 9.8).
void link::on_eof() {
  if (!tls_) {
    finish_by_close("upstream closed the connection");
    return;
  }
  if (st_ == state::handshaking) {
    fail(failure::tls, "upstream closed the connection during the TLS handshake");
    return;
  }
  tls_->feed_eof();
  if (!drain_plaintext()) return;
  fail(failure::closed, "upstream closed the TLS connection without close_notify (a response it ended is not "
                        "taken as complete)");
}

// The end of the byte stream, known to be genuine: completes a response
// delimited by it, then closes the link.
void link::finish_by_close(std::string_view why) {
  const auto r = parser_.finish();
  if (r.ev == http::response_event::response_complete && st_ == state::busy) {
    const http::response resp = parser_.current();
    st_ = state::closing;  // the upstream closed after answering
    report_response(resp);
  }
  fail(failure::closed, why);
}

// Returns false when the link failed.
bool link::feed_plain(const char* data, std::size_t len) {
  std::size_t off = 0;
  while (off < len || st_ == state::busy) {
    const http::response_feed_result r = parser_.feed({data + off, len - off});
    off += r.consumed;
    if (r.ev == http::response_event::need_more) return true;
    if (r.ev == http::response_event::error) {
      fail(failure::protocol, "malformed response from upstream");
      return false;
    }
    if (st_ != state::busy || held_) {
      fail(failure::protocol, "response from upstream without a request");
      return false;
    }
    const http::response resp = parser_.current();
    const bool keep = resp.keep_alive;
    if (keep && request_unsent()) {
      // An answer before the whole request went out (nginx's `return` does
      // this): the rest of the body must still follow, or the connection
      // would read it as the next request. The answer is held until then:
      // the ring keeps the batch's records, which TLS still encrypts from,
      // until the forwarder learns the answer.
      held_ = response_news(resp);
      parser_.next();
      if (off >= len) return true;
      continue;
    }
    st_ = keep ? state::ready : state::closing;
    deadline_ms_ = 0;
    report_response(resp);
    parser_.next();
    if (!keep) {
      // Whatever of the request is left stops here, with the connection.
      fail(failure::closed, "upstream closed the connection after its response");
      return false;
    }
    if (off >= len) return true;
  }
  return true;
}

void link::pump() {
  if (st_ == state::closing || st_ == state::closed || st_ == state::connecting) return;
  if (tls_) {
    if (st_ == state::handshaking) {
      const tls_status s = tls_->handshake();
      if (s == tls_status::error || s == tls_status::closed) {
        fail(failure::tls, tls_->last_error());
        return;
      }
      if (tls_->handshake_done()) {
        st_ = state::ready;  // the owner sends on its next poll
        deadline_ms_ = 0;
      }
    }
    // Encrypt the request from its pieces into the session's send buffer,
    // as much as it takes (no plaintext copy of the request is made), and
    // send that buffer as it is; the send's completion frees its space and
    // pumps again for the rest.
    if (st_ == state::busy && !req_.done()) {
      std::size_t written = 0;
      const tls_status s = tls_->write(req_.rest(), written);
      req_.advance(written);
      if (s == tls_status::error) {
        fail(failure::tls, tls_->last_error());
        return;
      }
    }
    if (!sock_.in_flight(op::send)) {
      const auto out = tls_->pending_ciphertext();
      if (!out.empty()) submit_send(out);
    }
  } else if (st_ == state::busy && !sock_.in_flight(op::send) && !req_.done()) {
    // Plain: the forwarder joins the request into one piece (one copy is
    // cheaper than a gather write of many small ones: bench/output/http/
    // send_shape_bench); any other shape still goes out, piece by piece.
    const iovec next = req_.rest()[0];
    submit_send({static_cast<const char*>(next.iov_base), next.iov_len});
  }
  if (held_ && !request_unsent()) {
    // The request is all out now: its early answer goes to the owner.
    deadline_ms_ = 0;
    deliver_held();
  }
  // Ready links keep a recv armed too, so an upstream closing an idle
  // keep-alive connection is noticed now, not as a failed request later.
  const bool want_read = st_ == state::handshaking || st_ == state::busy || st_ == state::ready;
  if (want_read && !sock_.in_flight(op::recv)) submit_recv();
}

void link::submit_send(std::span<const char> bytes) {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_send(s, sock_.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, sock_.user_data(op::send));
  sock_.submitted(op::send);
}

// Whether some of the request has not reached the socket yet: pieces not
// sent (or not encrypted), or ciphertext still in the session's buffer.
bool link::request_unsent() const noexcept {
  return !req_.done() || sock_.in_flight(op::send) || (tls_ && tls_->pending_ciphertext_bytes() > 0);
}

void link::submit_recv() {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_recv(s, sock_.fd(), rbuf_.get(), recv_bytes, 0);
  io_uring_sqe_set_data64(s, sock_.user_data(op::recv));
  sock_.submitted(op::recv);
}

void link::fail(failure f, std::string_view why) {
  if (st_ == state::closed) return;
  if (held_) {
    // The upstream answered the request already: that answer stands, and
    // the failure (of sending the rest) concerns no request.
    deliver_held();
  }
  const bool had_request = st_ == state::busy;
  const bool already_closing = st_ == state::closing;
  st_ = state::closing;
  sock_.abort();
  if (!already_closing || had_request) report_failure(f, why, had_request);
  maybe_release();
}

void link::maybe_release() {
  if (st_ != state::closing || sock_.any_in_flight()) return;
  sock_.release();
  tls_.reset();
  parser_.reset();
  req_.clear();
  held_.reset();
  deadline_ms_ = 0;
  st_ = state::closed;
}

link_news link::response_news(const http::response& r) const {
  link_news n;
  n.what = link_news::kind::response;
  n.batch_id = batch_id;
  n.sent_at_ns = sent_at_ns;
  n.status = r.status;
  if (r.has_retry_after) n.retry_after.emplace(r.retry_after);
  n.body.assign(r.body);
  return n;
}

void link::report_response(const http::response& r) {
  news_.push_back(response_news(r));
  batch_id = 0;
}

// The answer that came before the whole request went out, now that the
// request is done with (sent, or failed): the link is free for the next.
void link::deliver_held() {
  news_.push_back(std::move(*held_));
  held_.reset();
  batch_id = 0;
  st_ = state::ready;
}

void link::report_failure(failure f, std::string_view why, bool had_request) {
  link_news n;
  n.what = link_news::kind::failed;
  n.batch_id = had_request ? batch_id : 0;
  n.why = f;
  n.detail.assign(why);
  n.had_request = had_request;
  news_.push_back(std::move(n));
  if (had_request) batch_id = 0;
}

void link::check_deadline(std::uint64_t now_ms) {
  if (deadline_ms_ == 0 || now_ms < deadline_ms_) return;
  if (st_ == state::connecting || st_ == state::handshaking) fail(failure::timeout, "connect or TLS handshake timed out");
  else if (st_ == state::busy) fail(failure::timeout, "no response from upstream in time");
}

}  // namespace tg::upstream
