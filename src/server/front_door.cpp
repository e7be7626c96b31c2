// SPDX-License-Identifier: Apache-2.0
// Accept, receive, parse, answer, send; per-connection bounds and timeouts;
// requests that wait for ring space or an acknowledgement.
#include "front_door.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/http/response.hpp"

namespace tg::server {
namespace {
constexpr std::uint16_t recv_group = 1;
constexpr unsigned stop_linger_ms = 200;
// Connections accepted and closed per shed (out of descriptors): bounded
// work per pause, which is what keeps the shard from spinning.
constexpr unsigned shed_max = 256;
// Capacity a warm connection's output buffers keep for the next client.
constexpr std::size_t warm_buffer_bytes = 16 * 1024;
}  // namespace

front_door::front_door(unsigned index, const options& opts, int listen_fd, reactor::uring& ring,
                       ring::event_ring& events, probe& counters, process_state& process,
                       std::unique_ptr<request_handler> handler, spool::driver* spool,
                       const output::shard_output* output)
    : index_(index), opts_(opts), listen_fd_(listen_fd), ring_(ring), events_(events), counters_(counters),
      process_(process), handle_(std::move(handler)), spool_(spool), output_(output) {}

front_door::~front_door() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void front_door::start() {
  // Deadlines of connections accepted in the loop's first iteration count
  // from now, not from 0 (which the first tick would take as long past).
  now_ = monotonic_ms();
  // The padding after each buffer is what lets a body be validated where it
  // was received (simdjson reads up to body_padding bytes past its input).
  buffers_ = std::make_unique<reactor::buffer_ring>(ring_, recv_group, opts_.recv_buffers, opts_.recv_buffer_bytes,
                                                    static_cast<unsigned>(http::body_padding));
  shedder_ = std::make_unique<backlog_shedder>();
  if (process_.tls != nullptr) tls_ = std::make_unique<tls_listener>(*process_.tls, process_.clients);
  arm_accept();
}

void front_door::close() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  shedder_.reset();
  // The kernel must be done with every buffer before they are freed: the
  // buffer ring goes before the io_uring does.
  buffers_.reset();
}

void front_door::give_back_buffer(const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
    buffers_->give_back(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
  }
}

void front_door::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  switch (static_cast<op>(t.op)) {
    case op::accept: on_accept(cqe); break;
    case op::recv:
    case op::send: {
      if (t.slot >= conns_.size() || !conns_[t.slot] || conns_[t.slot]->gen != t.gen) {
        // A completion for a slot's previous occupant: only its buffer matters.
        give_back_buffer(cqe);
        break;
      }
      if (static_cast<op>(t.op) == op::recv) on_recv(cqe, t.slot);
      else on_send(cqe, t.slot);
      break;
    }
    case op::cancel: break;
  }
}

void front_door::poll(std::uint64_t now_ms) {
  now_ = now_ms;
  if (!ack_waiters_.empty()) check_acks();
  // Parked requests go again as soon as the output freed ring space (or the
  // spool made room), not a tick later: under back pressure a tick is long.
  if (!parked_slots_.empty() && progress() != parked_tried_at_) retry_parked();
  if (!reply_slots_.empty()) pull_replies();
  for (std::size_t i = 0; i < dirty_.size(); ++i) flush(dirty_[i]);
  dirty_.clear();
  buffers_->publish();
}

void front_door::arm_accept() {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_multishot_accept(s, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, tag(op::accept, 0, 0));
  accepting_ = true;
}

void front_door::arm_recv(connection& c, std::uint32_t slot) {
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = recv_group;
  io_uring_sqe_set_data64(s, tag(op::recv, slot, c.gen));
  c.recv_armed = true;
  c.recv_cancelling = false;
}

void front_door::cancel_recv(connection& c, std::uint32_t slot) {
  if (!c.recv_armed || c.recv_cancelling) return;
  io_uring_sqe* s = ring_.sqe();
  io_uring_prep_cancel64(s, tag(op::recv, slot, c.gen), 0);
  io_uring_sqe_set_data64(s, tag(op::cancel, slot, c.gen));
  c.recv_cancelling = true;
}

void front_door::on_accept(const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) accepting_ = false;
  if (cqe.res < 0) {
    if (cqe.res != -ECANCELED && !draining_) on_accept_error(-cqe.res);
  } else {
    const int fd = cqe.res;
    if (draining_ || open_ >= opts_.max_connections) {
      ::close(fd);
      counters_.connections_refused.add();
    } else {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::uint32_t slot;
      if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
      } else {
        slot = static_cast<std::uint32_t>(conns_.size());
        conns_.push_back(nullptr);
        slot_gens_.push_back(0);
      }
      if (!conns_[slot]) {  // new, or its object went after a burst (release_cold_slots)
        conns_[slot] = std::make_unique<connection>(opts_.limits);
        conns_[slot]->gen = slot_gens_[slot];
      }
      connection& c = *conns_[slot];
      c.fd = fd;
      c.in_use = true;
      ++open_;
      counters_.connections_accepted.add();
      counters_.connections_open.set(static_cast<std::int64_t>(open_));
      set_deadline(c, dl_idle, opts_.idle_timeout_ms);
      if (tls_) tls_accept(c, slot);
      arm_recv(c, slot);
    }
  }
  if (!accepting_ && !draining_ && !accept_backoff_.paused()) arm_accept();
}

// A failed accept ends the multishot accept. Re-armed at once, one that fails
// for want of descriptors or memory fails again at once: the shard would spin
// and log without end. So it pauses (tick() re-arms), what waits in the
// backlog is closed rather than left hanging, and the log says it once per
// interval, with the count.
void front_door::on_accept_error(int err) {
  counters_.count(classify_accept_error(err));
  const accept_backoff::decision d = accept_backoff_.failed(err, now_);
  if (d.shed && !accepting_) shed_backlog();
  if (d.log) log_accept_errors();
}

void front_door::log_accept_errors() {
  const std::uint64_t n = accept_backoff_.take_unlogged(now_);
  const int err = accept_backoff_.last_error();
  log::warn("accept failed", {{"shard", index_},
                              {"error", std::strerror(err)},
                              {"count", static_cast<unsigned long long>(n)},
                              {"paused_ms", accept_backoff_.paused() ? accept_backoff_.pause_ms() : 0u}});
}

// Out of descriptors: the connections that wait in the backlog are accepted
// and closed (through the shedder's direct descriptor, which needs none of
// the process's), so their clients see a close now instead of hanging until
// a descriptor frees up.
void front_door::shed_backlog() {
  if (shedder_ == nullptr || listen_fd_ < 0) return;
  counters_.connections_shed.add(shedder_->shed(listen_fd_, shed_max));
}

void front_door::on_recv(const io_uring_cqe& cqe, std::uint32_t slot) {
  connection& c = *conns_[slot];
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) c.recv_armed = false;
  if (c.closing) {
    give_back_buffer(cqe);
    maybe_release(c, slot);
    return;
  }
  if (cqe.res > 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    counters_.bytes_received.add(static_cast<std::uint64_t>(cqe.res));
    c.heard = true;
    c.slim = false;
    if (c.tls) tls_receive(c, slot, buffers_->buffer(bid), static_cast<std::size_t>(cqe.res));
    else receive(c, slot, buffers_->buffer(bid), static_cast<std::size_t>(cqe.res), bytes_from::recv_loan);
    end_recv_loan(c, bid);
  } else if (cqe.res == 0) {
    // A client may half-close after sending its request: answer what was
    // received, then close. A request cut short by the close is dropped.
    c.peer_closed = true;
    if (c.lingering || (!c.send_inflight && c.out_pending.empty() && !c.parked && !c.awaiting_ack && !c.reply)) {
      close_conn(c, slot);
      return;
    }
    c.close_after_send = true;
  } else if (cqe.res == -ENOBUFS) {
    // Every receive buffer is in use; re-armed at the end of this iteration,
    // after buffers went back.
  } else if (cqe.res != -ECANCELED) {
    close_conn(c, slot);  // ECONNRESET and friends
    return;
  }
  if (cqe.res <= 0) give_back_buffer(cqe);
  mark_dirty(slot);
}

// The loan of a provided buffer ends here: it goes back to the kernel, which
// may fill it again as soon as the ring is published (poll()). So nothing may
// point into it past this call: bytes the parser did not take were stashed
// (receive()), a request that outlives the completion had its body made the
// parser's own (finish_request()), every other request was done with. A body
// still lent here would be read after the kernel overwrote it.
void front_door::end_recv_loan(connection& c, std::uint16_t bid) {
  assert(!c.parser.body_lent() && "a request still points into a receive buffer given back");
  if (c.parser.body_lent()) [[unlikely]] c.parser.keep_body();  // release builds: a copy, never a stale read
  buffers_->give_back(bid);
}

// New bytes from the socket. Usually parsed straight from the receive buffer,
// keeping only a remainder; behind a stash (or while the connection takes no
// input) they queue after it (copied: the receive buffer's loan is short).
void front_door::receive(connection& c, std::uint32_t slot, const char* data, std::size_t len, bytes_from from) {
  if (c.lingering || c.close_after_send) return;  // a final response is queued: discard
  if (c.has_stash() || !wants_input(c)) {
    // Held until the connection takes input again. The recv is cancelled by
    // then, but what the kernel delivered before that still comes: bounded.
    if (c.stash_off > 0) {
      c.stash.erase(0, c.stash_off);
      c.stash_off = 0;
    }
    // Past the shard's total, a connection that is not read gets nothing
    // held for it: its pipelined input is what the bound is for.
    if (c.stash.size() + len > opts_.max_stash_bytes || output_total_ >= opts_.max_output_bytes_total) {
      overflow(c, slot);
      return;
    }
    c.stash.append(data, len);
    drain_stash(c, slot);
    return;
  }
  const std::size_t used = parse(c, slot, data, len, from);
  if (used < len && !c.close_after_send && !c.lingering) {
    c.stash.append(data + used, len - used);
    account(c);
  }
}

// Feeds the parser while the connection wants input; returns the bytes used.
// Loops until the parser wants more: a request without a body completes on a
// feed that consumes nothing, right after its head. Every request completed
// here is handled here (finish_request()), within the receive completion.
std::size_t front_door::parse(connection& c, std::uint32_t slot, const char* data, std::size_t len, bytes_from from) {
  std::size_t off = 0;
  while (wants_input(c)) {
    const std::span<const char> rest(data + off, len - off);
    const http::feed_result r = from == bytes_from::recv_loan ? c.parser.feed_lent(rest) : c.parser.feed(rest);
    off += r.consumed;
    if (r.ev == http::event::need_more) break;
    if (r.ev == http::event::head_complete) {
      c.head_done = true;
      const http::request& req = c.parser.current();
      set_deadline(c, dl_body, opts_.body_timeout_ms);
      if (req.expect_continue && req.version_minor >= 1) {
        http::write_continue(c.out_pending);
        mark_dirty(slot);
      }
    } else if (r.ev == http::event::message_complete) {
      finish_request(c, slot);
    } else {
      refuse(c, slot, from_parse_error(r.error));
      break;
    }
  }
  if (c.parser.in_request() && !c.head_done && c.deadline_kind != dl_header) {
    set_deadline(c, dl_header, opts_.header_timeout_ms);
  }
  mark_dirty(slot);
  return off;
}

// The client sent more than max_stash_bytes past what it has not read (or
// anything while the shard is over its total): it is answered what it is
// owed, its further input dropped, and the connection not read (TCP pushes
// back) until those answers are sent; then it closes.
void front_door::overflow(connection& c, std::uint32_t slot) {
  counters_.stash_overflows.add();
  c.overflowed = true;
  c.close_after_send = true;
  c.stash.clear();
  c.stash.shrink_to_fit();
  c.stash_off = 0;
  mark_dirty(slot);
}

// Parses the stash (input that arrived while the parser could not take it),
// as far as the connection takes input. The stash is moved out while it is
// parsed: a refusal clears the connection's buffers meanwhile.
void front_door::drain_stash(connection& c, std::uint32_t slot) {
  while (c.has_stash() && wants_input(c)) {
    std::string pending;
    pending.swap(c.stash);
    std::size_t off = c.stash_off;
    c.stash_off = 0;
    const std::size_t used = parse(c, slot, pending.data() + off, pending.size() - off, bytes_from::copy);
    off += used;
    const bool keep = off < pending.size() && !c.close_after_send && !c.lingering;
    if (keep) {
      c.stash.swap(pending);
      c.stash_off = off;
    } else if (c.stash.empty() && pending.capacity() <= warm_buffer_bytes) {
      pending.clear();
      c.stash.swap(pending);  // keep a small buffer's capacity
    }
    if (used == 0) break;
  }
  if (!c.has_stash()) {
    c.stash.clear();
    c.stash_off = 0;
  }
  account(c);
}

void front_door::finish_request(connection& c, std::uint32_t slot) {
  const http::request& req = c.parser.current();
  const bool expired = c.parked && now_ - c.parked_since >= opts_.admit_timeout_ms;
  const bool last = !req.keep_alive || draining_;
  const http::connection hdr = last ? http::connection::close
                                    : (req.version_minor == 0 ? http::connection::keep_alive_http10
                                                              : http::connection::keep_alive);
  request_context ctx;
  ctx.peer_client = c.peer_client;
  ctx.now_ms = now_;
  ctx.first_try_ms = c.parked ? c.parked_since : now_;
  ctx.first_try_ns = c.parked ? c.parked_since_ns : 0;
  ctx.admit_expired = expired;
  ctx.can_pass = pass_ != nullptr;
  ctx.kept = std::move(c.kept);
  const outcome o = handle_->handle(req, hdr, c.out_pending, ctx);
  if (o == outcome::park) {
    // The request outlives this completion: a body used where it was
    // received (and the validated events that point into it by offset) must
    // not outlive the receive buffer's loan (end_recv_loan()).
    c.parser.keep_body();
    c.kept = std::move(ctx.kept);
    c.park_bytes = ctx.park_bytes;
    if (!c.parked) {
      c.parked = true;
      c.parked_since = now_;
      c.parked_since_ns = monotonic_ns();
      counters_.backpressure_pauses.add();
      if (!c.parked_listed) {
        parked_slots_.push_back(slot);
        c.parked_listed = true;
      }
    }
    set_deadline(c, dl_none, 0);
    return;
  }
  if (o == outcome::drop) {
    c.parked = false;
    c.parser.reset();  // the request goes with the connection (and lets go of a lent body)
    close_conn(c, slot);
    return;
  }
  if (o == outcome::await_ack) {
    // Admitted; the answer waits for the acknowledgement. No further request
    // is read meanwhile, so responses stay in order.
    c.awaiting_ack = true;
    c.ack_position = ctx.ack_position;
    c.ack_ring_begin = ctx.ack_ring_begin;
    c.ack_first_seq = ctx.ack_first_seq;
    c.ack_ring_end = ctx.ack_ring_end;
    c.ack_refused = false;
    c.ack_for = ctx.wait;
    c.ack_status = ctx.ack_status;
    c.ack_since = now_;
    c.ack_conn = hdr;
    c.ack_cors = ctx.cors_origin;
    ack_waiters_.push_back(slot);
  }
  if (o == outcome::pass && pass_ != nullptr) {
    // The pass-through answers; no further request is read meanwhile, so
    // responses stay in order. Its own timeout bounds the wait.
    c.reply = pass_->take(req, hdr, peer_of(c));
    if (!c.reply_listed) {
      reply_slots_.push_back(slot);
      c.reply_listed = true;
    }
  }
  c.parked = false;
  c.head_done = false;
  c.parser.next();
  if (last) c.close_after_send = true;
  else if (c.reply) set_deadline(c, dl_none, 0);
  else set_deadline(c, dl_idle, opts_.idle_timeout_ms);
  mark_dirty(slot);
}

// An HTTP-level refusal: answered, counted, and the connection closes after it.
void front_door::refuse(connection& c, std::uint32_t slot, refusal r) {
  write_refusal(c.out_pending, r, http::connection::close);
  counters_.count(r);
  c.close_after_send = true;
  c.parked = false;
  c.kept.reset();
  c.parser.reset();
  c.stash.clear();
  c.stash_off = 0;
  mark_dirty(slot);
}

bool front_door::ack_reached(const connection& c) const {
  switch (c.ack_for) {
    case ack_wait::ring_released: return events_.read_begin() >= c.ack_position;
    case ack_wait::spool_synced: return spool_->synced_seq() >= c.ack_position;
    case ack_wait::spool_delivered: return spool_->delivered_seq() >= c.ack_position;
  }
  return false;
}

// Once the ring released the request's events, whether the output refused
// any of them (it keeps that only until its next poll: asked every poll).
void front_door::note_ring_refusals(connection& c) {
  if (c.ack_ring_end == 0 || events_.read_begin() < c.ack_ring_end) return;
  if (output_ != nullptr) {
    if (const auto r = output_->rejected(c.ack_ring_begin, c.ack_ring_end)) {
      c.ack_refused = true;
      c.ack_refused_detail = std::make_unique<std::string>(upstream_refused_detail(r->events, r->status, r->detail));
    }
  }
  c.ack_ring_end = 0;  // looked at
}

void front_door::answer_waiter(connection& c, std::uint32_t slot, endpoint ep, int status) {
  const std::size_t at = c.out_pending.size();
  http::write_empty(c.out_pending, status, c.ack_conn);
  add_ack_headers(c, at);
  counters_.count_request(ep, status);
  (void)slot;
}

void front_door::refuse_waiter(connection& c, std::uint32_t slot, endpoint ep, refusal r, std::string_view detail) {
  const std::size_t at = c.out_pending.size();
  write_refusal(c.out_pending, r, c.ack_conn, detail);
  add_ack_headers(c, at);
  counters_.count(r);
  counters_.count_request(ep, describe(r).status);
  (void)slot;
}

// --ack upstream / durable: answer every waiter whose events the upstream
// accepted (or the spool synced), or 504 once --ack-timeout-ms passed. A
// durable waiter whose events the failing disk has not taken gets 503 now.
void front_door::check_acks() {
  std::size_t keep = 0;
  for (std::size_t i = 0; i < ack_waiters_.size(); ++i) {
    const std::uint32_t slot = ack_waiters_[i];
    if (!conns_[slot]) continue;
    connection& c = *conns_[slot];
    if (!c.in_use || !c.awaiting_ack || c.closing) continue;
    const auto ep = c.ack_status == 202 ? endpoint::ingest_v3 : endpoint::ingest_v1;
    note_ring_refusals(c);
    if (ack_reached(c)) {
      // With a spool the events may have reached the output from disk (the
      // ring did not take them at admission): the spool knows, by sequence
      // number, which of them the destination refused.
      if (!c.ack_refused && c.ack_for == ack_wait::spool_delivered && c.ack_first_seq != 0) {
        if (const auto r = spool_->refused(c.ack_first_seq, c.ack_position)) {
          c.ack_refused = true;
          c.ack_refused_detail =
              std::make_unique<std::string>(upstream_refused_detail(r->events, r->status, r->detail));
        }
      }
      const std::string_view detail = c.ack_refused_detail ? std::string_view(*c.ack_refused_detail) : std::string_view{};
      if (c.ack_refused) refuse_waiter(c, slot, ep, refusal::upstream_refused, detail);
      else answer_waiter(c, slot, ep, c.ack_status);
    } else if (c.ack_for == ack_wait::spool_synced && spool_->failing() && spool_->written_seq() < c.ack_position) {
      refuse_waiter(c, slot, ep, refusal::spool_write_failed);
    } else if (now_ - c.ack_since >= opts_.ack_timeout_ms || (draining_ && now_ >= drain_deadline_)) {
      refuse_waiter(c, slot, ep, c.ack_for == ack_wait::spool_synced ? refusal::sync_timeout : refusal::ack_timeout);
    } else {
      ack_waiters_[keep++] = slot;
      continue;
    }
    c.awaiting_ack = false;
    c.ack_refused = false;
    c.ack_ring_end = 0;
    c.ack_refused_detail.reset();
    if (c.ack_conn != http::connection::close) set_deadline(c, dl_idle, opts_.idle_timeout_ms);
    drain_stash(c, slot);
    mark_dirty(slot);
  }
  ack_waiters_.resize(keep);
}

bool front_door::wants_input(const connection& c) const {
  return !c.parked && !c.awaiting_ack && !c.reply && !c.close_after_send && !c.lingering && !c.closing && !output_blocked(c);
}

// Too much unsent output to parse another request: the connection's own
// bound, or the shard's (which only stops connections that hold some, so a
// connection with none can always be answered).
bool front_door::output_blocked(const connection& c) const noexcept {
  const std::size_t u = c.unsent();
  return u >= opts_.max_output_bytes || (u > 0 && output_total_ >= opts_.max_output_bytes_total);
}

// End of an iteration: start a send if there is output, and make the recv
// state match what the connection wants.
void front_door::flush(std::uint32_t slot) {
  if (slot >= conns_.size() || !conns_[slot]) return;
  connection& c = *conns_[slot];
  if (!c.in_use || c.closing) return;
  if (c.tls && !c.send_inflight) {
    tls_seal(c, slot);  // out_pending becomes ciphertext
    if (!c.in_use || c.closing) return;
  }
  if (!c.send_inflight && !c.out_pending.empty()) {
    c.out_sending.swap(c.out_pending);
    c.out_pending.clear();
    c.sent = 0;
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_send(s, c.fd, c.out_sending.data(), c.out_sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(op::send, slot, c.gen));
    c.send_inflight = true;
  }
  if (!c.send_inflight && c.out_pending.empty() && c.close_after_send && !c.lingering && !c.awaiting_ack &&
      !c.parked && !c.reply) {
    if (c.peer_closed) {
      close_conn(c, slot);
      return;
    }
    start_linger(c);
  }
  update_reading(c, slot);
}

void front_door::update_reading(connection& c, std::uint32_t slot) {
  if (c.closing) return;
  const bool blocked = output_blocked(c);
  if (blocked != c.output_paused) {
    c.output_paused = blocked;
    if (blocked) counters_.output_pauses.add();
  }
  // A final response queued: read on and discard (the client sees the
  // answer, not a reset), except after an overflow until the answers are out.
  const bool discard = c.lingering || (c.close_after_send && !c.overflowed);
  const bool want = !c.peer_closed && (wants_input(c) || discard);
  if (want && !c.recv_armed) arm_recv(c, slot);
  else if (!want && c.recv_armed) cancel_recv(c, slot);
}

void front_door::on_send(const io_uring_cqe& cqe, std::uint32_t slot) {
  connection& c = *conns_[slot];
  c.send_inflight = false;
  if (cqe.res > 0) {
    counters_.bytes_sent.add(static_cast<std::uint64_t>(cqe.res));
    c.sent += static_cast<std::size_t>(cqe.res);
    account(c);
  }
  // Closing first: a send that fails because the connection was closed under
  // it (a reset seen by the recv, the drain deadline) is the last operation
  // the slot waits for. close_conn() would return at once, and the slot
  // would never be released: open for ever, and the shard never drained.
  if (c.closing) {
    maybe_release(c, slot);
    return;
  }
  if (cqe.res < 0) {
    close_conn(c, slot);
    return;
  }
  if (c.sent < c.out_sending.size()) {
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_send(s, c.fd, c.out_sending.data() + c.sent, c.out_sending.size() - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(op::send, slot, c.gen));
    c.send_inflight = true;
    return;
  }
  c.out_sending.clear();
  c.sent = 0;
  // A buffer that a burst of pipelined answers grew goes back to the
  // allocator; ordinary answers never grow one this far.
  if (c.out_sending.capacity() > warm_buffer_bytes) std::string().swap(c.out_sending);
  // Output drained below the bound: input that waited may go on.
  if (c.has_stash()) drain_stash(c, slot);
  mark_dirty(slot);
}

void front_door::start_linger(connection& c) {
  // Shut our side, then read and discard until the client closes or the
  // linger deadline: closing with unread input would send RST and could
  // destroy the response before the client reads it.
  ::shutdown(c.fd, SHUT_WR);
  c.lingering = true;
  c.stash.clear();
  c.stash_off = 0;
  account(c);
  // While stopping, a client that keeps its end open must not hold shutdown
  // for the whole linger period.
  set_deadline(c, dl_linger, draining_ ? std::min(opts_.linger_ms, stop_linger_ms) : opts_.linger_ms);
}

void front_door::close_conn(connection& c, std::uint32_t slot) {
  if (c.closing) return;
  c.closing = true;
  ::shutdown(c.fd, SHUT_RDWR);
  if (c.recv_armed) cancel_recv(c, slot);
  maybe_release(c, slot);
}

// Frees the slot once the kernel holds no operation on it.
void front_door::maybe_release(connection& c, std::uint32_t slot) {
  if (c.recv_armed || c.send_inflight) return;
  ::close(c.fd);
  c.fd = -1;
  c.in_use = false;
  c.gen = (c.gen + 1) & reactor::generation_mask;
  // The slot's buffers go back to a bounded pool: the first warm_connections
  // free slots keep small ones for the next clients, the others free all
  // (after a burst of connections, memory is returned).
  const bool warm = free_slots_.size() < opts_.warm_connections;
  if (!warm) cold_slots_ = true;
  if (warm) c.parser.reset();
  else c.parser = http::request_parser(opts_.limits);
  c.stash.clear();
  c.stash.shrink_to_fit();
  c.stash_off = 0;
  c.out_pending.clear();
  c.out_sending.clear();
  const std::size_t keep = warm ? warm_buffer_bytes : 0;
  if (c.out_pending.capacity() > keep) std::string().swap(c.out_pending);
  if (c.out_sending.capacity() > keep) std::string().swap(c.out_sending);
  c.sent = 0;
  account(c);
  c.kept.reset();
  c.ack_refused_detail.reset();
  c.ack_refused = false;
  c.ack_ring_end = 0;
  c.reply.reset();  // the pass-through lets go of the upstream side
  c.peer.clear();
  c.tls.reset();
  c.peer_client = client_registry::none;
  c.ack_cors = {};
  c.recv_cancelling = c.send_inflight = c.parked = c.head_done = c.awaiting_ack = false;
  c.close_after_send = c.peer_closed = c.lingering = c.closing = false;
  c.output_paused = c.overflowed = false;
  set_deadline(c, dl_none, 0);
  free_slots_.push_back(slot);
  --open_;
  counters_.connections_open.set(static_cast<std::int64_t>(open_));
}

// After a burst of connections closed, the free slots past the warm ones
// give their objects back (parser and connection state, about a KiB each);
// the slot numbers stay, with their generation, for the next clients. Not
// while one of the lists still names the slot (they let go of it in poll()).
void front_door::release_cold_slots() {
  cold_slots_ = false;
  for (std::size_t i = opts_.warm_connections; i < free_slots_.size(); ++i) {
    const std::uint32_t slot = free_slots_[i];
    std::unique_ptr<connection>& p = conns_[slot];
    if (!p) continue;
    if (p->in_use || p->parked_listed || p->reply_listed ||
        std::find(ack_waiters_.begin(), ack_waiters_.end(), slot) != ack_waiters_.end()) {
      cold_slots_ = true;  // tried again next tick
      continue;
    }
    slot_gens_[slot] = p->gen;
    p.reset();
  }
}

// A keep-alive connection that sent nothing for a whole tick keeps only the
// parser itself: its head copy, body and output buffers go back to the
// allocator (a busy connection keeps them warm: it is never idle a tick).
void front_door::slim_down(connection& c) {
  if (c.parser.in_request() || c.has_stash() || c.send_inflight || c.unsent() != 0 || c.awaiting_ack || c.reply ||
      c.lingering || c.closing || c.tls) {
    return;
  }
  c.parser.shrink();
  std::string().swap(c.stash);
  c.stash_off = 0;
  std::string().swap(c.out_pending);
  std::string().swap(c.out_sending);
  c.sent = 0;
  c.slim = true;
}

void front_door::set_deadline(connection& c, int kind, unsigned ms) {
  c.deadline_kind = kind;
  c.deadline_ms = kind == dl_none ? 0 : now_ + ms;
}

void front_door::tick(std::uint64_t now_ms) {
  now_ = now_ms;
  if (!parked_slots_.empty()) retry_parked();  // admit timeouts, injected delays
  if (!draining_ && process_.stopping.load(std::memory_order_acquire)) begin_drain();
  // Accepting again after a pause: descriptors may have been freed since.
  if (accept_backoff_.resume(now_) && !draining_ && !accepting_) arm_accept();
  if (accept_backoff_.log_due(now_)) log_accept_errors();
  // No event since the last tick and every one released: the ring's pages
  // above its window go back (after a burst, memory returns without load).
  events_.trim();
  const bool force = draining_ && now_ >= drain_deadline_;
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    if (!conns_[slot]) continue;
    connection& c = *conns_[slot];
    if (!c.in_use || c.closing) continue;
    if (force) {
      close_conn(c, slot);
      continue;
    }
    if (c.parked) continue;  // retried above
    if (!c.heard && !c.slim) slim_down(c);
    c.heard = false;
    if (c.deadline_ms == 0 || now_ < c.deadline_ms) continue;
    switch (c.deadline_kind) {
      case dl_header:
      case dl_body:
        refuse(c, slot, c.deadline_kind == dl_header ? refusal::header_timeout : refusal::body_timeout);
        set_deadline(c, dl_none, 0);
        break;
      case dl_idle:
        counters_.idle_timeouts.add();
        close_conn(c, slot);
        break;
      case dl_linger: close_conn(c, slot); break;
      case dl_handshake:
        counters_.tls_handshake_timeouts.add();
        close_conn(c, slot);
        break;
      default: break;
    }
  }
  if (cold_slots_) release_cold_slots();
}

// A parked request that waits for ring space is asked again only once the
// space could be there (twice what it needs, for wrap-around waste, and under
// the high watermark), or when its admit timeout ran out.
bool front_door::worth_retry(const connection& c) const {
  if (c.park_bytes == 0 || now_ - c.parked_since >= opts_.admit_timeout_ms) return true;
  const std::size_t used = events_.used_bytes();
  const std::size_t cap = events_.capacity();
  if (static_cast<double>(used) > opts_.high_watermark * static_cast<double>(cap)) return false;
  return cap - used >= 2 * c.park_bytes;
}

// Changes whenever a parked request could have room now.
std::uint64_t front_door::progress() const {
  return events_.read_begin() + (spool_ != nullptr ? spool_->progress() : 0);
}

// Asks the handler again for every parked request (in arrival order); those
// it admits or answers go on with their connection's pending input.
void front_door::retry_parked() {
  parked_tried_at_ = progress();
  std::size_t keep = 0;
  for (std::size_t i = 0; i < parked_slots_.size(); ++i) {
    const std::uint32_t slot = parked_slots_[i];
    if (!conns_[slot]) continue;
    connection& c = *conns_[slot];
    if (!c.in_use || c.closing || !c.parked) {
      c.parked_listed = false;
      continue;
    }
    if (!worth_retry(c)) {
      parked_slots_[keep++] = slot;
      continue;
    }
    finish_request(c, slot);
    if (c.parked) {
      parked_slots_[keep++] = slot;
      continue;
    }
    c.parked_listed = false;
    drain_stash(c, slot);
    mark_dirty(slot);
  }
  parked_slots_.resize(keep);
}

void front_door::begin_drain() {
  draining_ = true;
  drain_deadline_ = now_ + opts_.drain_timeout_ms;
  if (accepting_) {
    io_uring_sqe* s = ring_.sqe();
    io_uring_prep_cancel64(s, tag(op::accept, 0, 0), 0);
    io_uring_sqe_set_data64(s, tag(op::cancel, 0, 0));
  }
  // The kernel keeps the socket alive until the cancelled accept completes;
  // closing it now stops new connections from queueing on this shard.
  ::close(listen_fd_);
  listen_fd_ = -1;
  // Idle keep-alive connections close now; the others after their response.
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    if (!conns_[slot]) continue;
    connection& c = *conns_[slot];
    if (!c.in_use || c.closing) continue;
    if (!c.parser.in_request() && !c.has_stash() && !c.parked && !c.awaiting_ack && !c.reply && !c.send_inflight &&
        c.out_pending.empty()) {
      close_conn(c, slot);
    }
  }
}

}  // namespace tg::server
