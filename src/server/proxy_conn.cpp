// SPDX-License-Identifier: Apache-2.0
// The pass-through's upstream connection: every socket operation an io_uring
// SQE tagged (op, slot, generation). The generation moves on only once the
// kernel holds no operation on the connection's buffers, so a late
// completion can never land in a reused buffer.
#include "proxy_conn.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tg::server {

proxy_conn::proxy_conn(std::uint32_t slot, reactor::uring& ring, const reactor::component& owner,
                       upstream::tls_context* tls, std::string server_name)
    : ring_(ring), tls_ctx_(tls), server_name_(std::move(server_name)), sock_(slot, ring, owner),
      rbuf_(new char[recv_bytes]) {}

proxy_conn::~proxy_conn() = default;

void proxy_conn::connect(const sockaddr_storage& addr, socklen_t len) {
  reading_ = true;
  st_ = state::connecting;
  if (!sock_.connect(addr, len)) {
    why_ = proxy_failure::connect;
    detail_ = std::strerror(errno);
    st_ = state::closing;
    maybe_release();
  }
}

void proxy_conn::send(std::string_view bytes) {
  if (tls_) plain_.append(bytes);
  else wire_.append(bytes);
  pump();
}

void proxy_conn::want_read(bool on) {
  reading_ = on;
  if (on && st_ == state::open && !sock_.in_flight(op::recv)) submit_recv();
}

proxy_conn::news proxy_conn::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (!sock_.completed(t)) return news::none;
  news n = news::none;
  switch (static_cast<op>(t.op)) {
    case op::connect:
      if (st_ == state::closing) break;
      if (cqe.res < 0) return fail(proxy_failure::connect, std::strerror(-cqe.res));
      if (tls_ctx_ != nullptr) {
        auto s = upstream::tls_session::create(*tls_ctx_, server_name_);
        if (!s) return fail(proxy_failure::tls, s.error());
        tls_ = std::move(s.value());
        st_ = state::handshaking;
        return pump();
      }
      st_ = state::open;
      pump();
      return news::opened;
    case op::send:
      if (st_ == state::closing) break;
      if (cqe.res < 0) return fail(proxy_failure::network, std::strerror(-cqe.res));
      sending_off_ += static_cast<std::size_t>(cqe.res);
      if (sending_off_ < sending_.size()) {
        submit_send();
        return news::none;
      }
      sending_.clear();
      sending_off_ = 0;
      return pump();
    case op::recv: {
      if (st_ == state::closing) break;
      if (cqe.res < 0) return fail(proxy_failure::network, std::strerror(-cqe.res));
      if (cqe.res == 0) {
        if (tls_) tls_->feed_eof();
        return news::eof;
      }
      const std::size_t got = static_cast<std::size_t>(cqe.res);
      // The receive is re-armed by the owner's want_read() once it has taken
      // the bytes: it decides whether there is room for more.
      const bool reading = reading_;
      reading_ = false;
      if (!tls_) {
        inbox_.append(rbuf_.get(), got);
        reading_ = reading;
        return news::data;
      }
      tls_->feed_ciphertext({rbuf_.get(), got});
      if (st_ == state::handshaking) {
        reading_ = reading;
        return pump();
      }
      char plain[16 * 1024];
      upstream::tls_status last = upstream::tls_status::want_read;
      for (;;) {
        std::size_t n_read = 0;
        last = tls_->read(plain, sizeof plain, n_read);
        if (n_read > 0) inbox_.append(plain, n_read);
        if (last != upstream::tls_status::ok || n_read == 0) break;
      }
      pump();  // TLS may have something to say back (a key update)
      reading_ = reading;
      if (last == upstream::tls_status::error) return fail(proxy_failure::tls, tls_->last_error());
      if (!inbox_.empty()) return news::data;
      if (last == upstream::tls_status::closed) return news::eof;
      if (!sock_.in_flight(op::recv) && reading_) submit_recv();  // a partial record: read on
      return news::none;
    }
    case op::cancel: break;
  }
  maybe_release();
  return n;
}

proxy_conn::news proxy_conn::pump() {
  if (st_ != state::handshaking && st_ != state::open) return news::none;
  bool opened = false;
  if (tls_) {
    if (st_ == state::handshaking) {
      const upstream::tls_status s = tls_->handshake();
      if (s == upstream::tls_status::error || s == upstream::tls_status::closed) {
        return fail(proxy_failure::tls, tls_->last_error());
      }
      if (tls_->handshake_done()) {
        st_ = state::open;
        opened = true;
      }
    }
    // The session's send buffer is a fixed BIO pair: move its ciphertext
    // out after every write, until the plaintext is all encrypted.
    std::size_t off = 0;
    for (;;) {
      std::size_t written = 0;
      if (st_ == state::open && off < plain_.size()) {
        const upstream::tls_status s = tls_->write({plain_.data() + off, plain_.size() - off}, written);
        off += written;
        if (s == upstream::tls_status::error) return fail(proxy_failure::tls, tls_->last_error());
      }
      std::size_t moved = 0;
      for (auto c = tls_->pending_ciphertext(); !c.empty(); c = tls_->pending_ciphertext()) {
        wire_.append(c.data(), c.size());
        tls_->consume_ciphertext(c.size());
        moved += c.size();
      }
      if (off >= plain_.size() || (written == 0 && moved == 0)) break;
    }
    plain_.erase(0, off);
  }
  if (!sock_.in_flight(op::send) && !wire_.empty()) {
    sending_.swap(wire_);
    wire_.clear();
    sending_off_ = 0;
    submit_send();
  }
  const bool want = st_ == state::handshaking || (st_ == state::open && reading_);
  if (want && !sock_.in_flight(op::recv)) submit_recv();
  return opened ? news::opened : news::none;
}

void proxy_conn::submit_send() {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_send(s, sock_.fd(), sending_.data() + sending_off_, sending_.size() - sending_off_, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, sock_.user_data(op::send));
  sock_.submitted(op::send);
}

void proxy_conn::submit_recv() {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_recv(s, sock_.fd(), rbuf_.get(), recv_bytes, 0);
  io_uring_sqe_set_data64(s, sock_.user_data(op::recv));
  sock_.submitted(op::recv);
}

proxy_conn::news proxy_conn::fail(proxy_failure f, std::string_view why) {
  why_ = f;
  detail_.assign(why);
  close();
  return news::failed;
}

void proxy_conn::close() {
  if (st_ == state::closed || st_ == state::closing) return;
  st_ = state::closing;
  sock_.abort();
  maybe_release();
}

void proxy_conn::maybe_release() {
  if (st_ != state::closing || sock_.any_in_flight()) return;
  sock_.release();
  tls_.reset();
  plain_.clear();
  wire_.clear();
  sending_.clear();
  sending_off_ = 0;
  inbox_.clear();
  st_ = state::closed;
}

}  // namespace tg::server
