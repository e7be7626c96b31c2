// SPDX-License-Identifier: Apache-2.0
// The front door's TLS transport: OpenSSL over memory BIOs between the
// receive and the parser, and between the response and the send, on the
// shard's own io_uring. Ciphertext that arrives is fed to the session and the
// plaintext goes through receive() exactly as a plaintext connection's bytes
// do; output is sealed in flush() right before the send, so everything else
// (pipelining, parking, lingering, timeouts) works on plaintext unchanged.
// A failed or stalled handshake, or plaintext sent to the TLS port, costs
// that connection only.
#include <cerrno>

#include "front_door.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/http/response.hpp"

namespace tg::server {

void front_door::tls_accept(connection& c, std::uint32_t slot) {
  std::string why;
  c.tls = tls_->open(why);
  if (!c.tls) {
    log::error("cannot start a TLS session; closing the connection", {{"shard", index_}, {"error", why}});
    close_conn(c, slot);
    return;
  }
  // now_ is the last poll's time, 0 before the first one: a connection
  // accepted in the loop's first iteration must not start out expired.
  c.deadline_kind = dl_handshake;
  c.deadline_ms = monotonic_ms() + opts_.tls_handshake_timeout_ms;
}

void front_door::tls_handshake_done(connection& c) {
  upstream::tls_session& s = *c.tls->session;
  counters_.tls_handshakes.add();
  if (s.session_reused()) counters_.tls_resumed.add();
  c.peer_client = tls_->client_of(s);
  set_deadline(c, dl_idle, opts_.idle_timeout_ms);
}

void front_door::tls_receive(connection& c, std::uint32_t slot, const char* data, std::size_t len) {
  if (c.lingering || c.close_after_send || c.tls->failed) return;  // a final answer is queued: discard
  tls_conn& t = *c.tls;
  upstream::tls_session& s = *t.session;
  if (!t.started) {
    t.started = true;
    if (looks_like_http({data, len})) {
      // Plaintext HTTP on the TLS port: say so in plaintext (the client could
      // read nothing else), then close.
      c.tls.reset();
      counters_.tls_handshake_failures.add();
      const bool h2 = std::string_view(data, len).substr(0, 14) == "PRI * HTTP/2.0";
      refuse(c, slot, h2 ? refusal::http2_preface : refusal::tls_required);
      return;
    }
  }
  s.feed_ciphertext({data, len});
  if (!s.handshake_done()) {
    const upstream::tls_status st = s.handshake();
    if (st == upstream::tls_status::error || st == upstream::tls_status::closed) {
      counters_.tls_handshake_failures.add();
      if (tls_->may_log(now_)) {
        log::warn("TLS handshake failed; closing the connection",
                  {{"shard", index_}, {"error", s.last_error()}});
      }
      // The alert OpenSSL wrote goes out with the next flush; then the
      // connection lingers and closes like any after a final answer.
      t.failed = true;
      c.close_after_send = true;
      mark_dirty(slot);
      return;
    }
    if (!s.handshake_done()) {
      mark_dirty(slot);  // the server's flight goes out
      return;
    }
    tls_handshake_done(c);
  }
  for (;;) {
    std::size_t got = 0;
    const upstream::tls_status st = s.read(tls_->plain(), tls_listener::plain_chunk, got);
    if (got > 0) {
      receive(c, slot, tls_->plain(), got, bytes_from::copy);
      // receive() may have closed (and released) the connection, and with it
      // the session; or queued a final answer, after which input is discarded.
      if (!c.in_use || c.closing || c.close_after_send || c.lingering) break;
      continue;
    }
    if (st == upstream::tls_status::closed) {
      // close_notify: no more requests come; answer what was received.
      c.peer_closed = true;
      c.close_after_send = true;
      break;
    }
    if (st == upstream::tls_status::error) {
      close_conn(c, slot);
      return;
    }
    break;  // want_read: the rest of a record is still on the way
  }
  if (c.in_use && !c.closing) mark_dirty(slot);
}

// Seals out_pending (plaintext responses) into ciphertext, in place, with
// whatever the session has to send besides (its handshake flight, tickets,
// alerts, close_notify). Called only with no send in flight, so out_pending
// never holds plaintext and ciphertext at once.
void front_door::tls_seal(connection& c, std::uint32_t slot) {
  tls_conn& t = *c.tls;
  upstream::tls_session& s = *t.session;
  std::string& cipher = tls_->cipher();
  cipher.clear();
  auto drain = [&] {
    for (auto out = s.pending_ciphertext(); !out.empty(); out = s.pending_ciphertext()) {
      cipher.append(out.data(), out.size());
      s.consume_ciphertext(out.size());
    }
  };
  drain();
  std::size_t off = 0;
  if (!t.failed && s.handshake_done()) {
    while (off < c.out_pending.size()) {
      std::size_t written = 0;
      const upstream::tls_status st = s.write({c.out_pending.data() + off, c.out_pending.size() - off}, written);
      off += written;
      drain();
      if (st == upstream::tls_status::error) {
        close_conn(c, slot);
        return;
      }
      // want_write: the send buffer was full and has just been drained.
    }
    if (c.close_after_send && !t.notified && !c.parked && !c.awaiting_ack) {
      t.notified = true;
      s.shutdown();
      drain();
    }
  } else {
    off = c.out_pending.size();  // nothing may go out in plaintext on a TLS connection
  }
  if (off == c.out_pending.size()) {
    c.out_pending.swap(cipher);
  } else {
    c.out_pending.erase(0, off);
    c.out_pending.insert(0, cipher);
  }
  cipher.clear();
}

void front_door::add_ack_headers(connection& c, std::size_t at) {
  if (c.ack_cors.empty()) return;
  const std::pair<std::string_view, std::string_view> h[] = {{"Access-Control-Allow-Origin", c.ack_cors},
                                                             {"Vary", "Origin"}};
  http::insert_headers(c.out_pending, at, http::header_list(h, 2));
}

}  // namespace tg::server
