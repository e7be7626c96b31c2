// SPDX-License-Identifier: Apache-2.0
// The shard's event loop. Each iteration submits what the last one queued,
// waits for completions, handles them in one batch, then flushes: sends for
// connections with new output, recv re-arms, buffers back to the kernel.
//
// Back pressure: a request the ring cannot take parks its connection, and a
// parked connection's multishot recv is cancelled, so the client's TCP window
// fills up instead of our memory. Retries run every tick; after
// admit_timeout_ms the request gets 503 + Retry-After.
#include "tollgate/server/shard.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "connection.hpp"
#include "spool_driver.hpp"
#include "status_map.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/http/response.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"
#include "tollgate/upstream/forwarder.hpp"

namespace tg::server {
namespace {
using reactor::op;

enum deadline_kind : int { dl_none = 0, dl_header, dl_body, dl_idle, dl_linger };

constexpr std::uint16_t recv_group = 1;
constexpr unsigned stop_linger_ms = 200;
}  // namespace

struct shard::impl {
  impl(unsigned index, const options& opts, int listen_fd, ring::event_ring& ring, metrics::shard_metrics& counters,
       process_state& process, std::unique_ptr<request_handler> handler, const upstream::shared* up,
       spool_driver* spool)
      : index(index), opts(opts), listen_fd(listen_fd), ring(ring), counters(counters), process(process),
        handle(std::move(handler)), up(up), spool(spool) {}

  unsigned index;
  const options& opts;
  int listen_fd;
  ring::event_ring& ring;
  metrics::shard_metrics& counters;
  process_state& process;
  std::unique_ptr<request_handler> handle;
  const upstream::shared* up;
  spool_driver* spool;                        // with --spool-dir
  std::unique_ptr<upstream::forwarder> fwd;  // this shard's ring consumer, with an HTTP upstream
  std::vector<std::uint32_t> ack_waiters;     // slots awaiting the upstream's acceptance
  std::vector<std::uint32_t> parked_slots;    // slots whose complete request waits (ring space, a delay)
  std::uint64_t parked_tried_at = 0;          // progress() when parked requests were last retried

  std::unique_ptr<reactor::uring> uring;
  std::unique_ptr<reactor::buffer_ring> buffers;
  std::vector<std::unique_ptr<connection>> conns;  // slot = index
  std::vector<std::uint32_t> free_slots;
  std::vector<std::uint32_t> dirty;                // slots to flush at the end of the iteration
  std::size_t open = 0;
  bool accepting = false;
  bool draining = false;
  std::uint64_t drain_deadline = 0;
  std::uint64_t now = 0;
  __kernel_timespec tick_ts{};

  void run();
  void arm_accept();
  void arm_tick();
  void arm_recv(connection& c, std::uint32_t slot);
  void cancel_recv(connection& c, std::uint32_t slot);
  void on_accept(const io_uring_cqe& cqe);
  void on_recv(const io_uring_cqe& cqe, std::uint32_t slot);
  void on_send(const io_uring_cqe& cqe, std::uint32_t slot);
  void on_tick();
  void begin_drain();
  void check_acks();
  void retry_parked();
  bool worth_retry(const connection& c) const;
  std::uint64_t progress() const;
  bool ack_reached(const connection& c) const;
  void finish_shutdown();
  void feed(connection& c, std::uint32_t slot, const char* data, std::size_t len);
  void drain_stash(connection& c, std::uint32_t slot);
  void finish_request(connection& c, std::uint32_t slot);
  void answer_error(connection& c, std::uint32_t slot, int status, std::string_view detail);
  void mark_dirty(connection& c, std::uint32_t slot);
  void flush(std::uint32_t slot);
  void update_reading(connection& c, std::uint32_t slot);
  void start_linger(connection& c, std::uint32_t slot);
  void close_conn(connection& c, std::uint32_t slot);
  void maybe_release(connection& c, std::uint32_t slot);
  void set_deadline(connection& c, int kind, unsigned ms);
  bool wants_input(const connection& c) const;
};

shard::shard(unsigned index, const options& opts, int listen_fd, ring::event_ring& ring,
             metrics::shard_metrics& counters, process_state& process, std::unique_ptr<request_handler> handler,
             const upstream::shared* up, spool_driver* spool)
    : impl_(std::make_unique<impl>(index, opts, listen_fd, ring, counters, process, std::move(handler), up, spool)) {}

shard::~shard() = default;

void shard::run() { impl_->run(); }

void shard::impl::run() {
  uring = std::make_unique<reactor::uring>(reactor::uring_options{opts.uring_entries});
  buffers = std::make_unique<reactor::buffer_ring>(*uring, recv_group, opts.recv_buffers, opts.recv_buffer_bytes);
  if (up != nullptr) fwd = std::make_unique<upstream::forwarder>(index, *up, *uring, ring, counters.upstream);
  if (spool != nullptr) spool->attach(*uring);
  log::info("shard started", {{"shard", index}, {"io_uring", uring->mode()}});
  tick_ts.tv_sec = opts.tick_ms / 1000;
  tick_ts.tv_nsec = static_cast<long long>(opts.tick_ms % 1000) * 1000000LL;
  now = monotonic_ms();
  arm_accept();
  arm_tick();

  for (;;) {
    // With events lingering for a batch (or a backoff running out), wake up
    // in time for them even if no completion arrives.
    // A group commit may be waiting for --sync-max-delay-us: microseconds.
    const int wake = fwd ? fwd->wakeup_in_ms(now) : -1;
    long wake_us = wake >= 0 ? static_cast<long>(wake) * 1000 : -1;
    if (spool != nullptr) {
      const long s = spool->wakeup_in_us();
      if (s >= 0 && (wake_us < 0 || s < wake_us)) wake_us = s;
    }
    int rc = wake_us >= 0 ? uring->submit_and_wait_us(static_cast<unsigned long>(wake_us)) : uring->submit_and_wait(1);
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY) {
      log::error("io_uring_submit_and_wait failed", {{"shard", index}, {"error", std::strerror(-rc)}});
    }
    now = monotonic_ms();
    uring->reap([this](const io_uring_cqe& cqe) {
      const reactor::tag t = reactor::decode(cqe.user_data);
      switch (t.kind) {
        case op::accept: on_accept(cqe); break;
        case op::recv:
        case op::send: {
          if (t.slot >= conns.size() || !conns[t.slot] || conns[t.slot]->gen != t.gen) {
            // A completion for a slot's previous occupant: only its buffer matters.
            if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) buffers->give_back(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
            break;
          }
          if (t.kind == op::recv) on_recv(cqe, t.slot);
          else on_send(cqe, t.slot);
          break;
        }
        case op::tick: on_tick(); break;
        case op::up_connect:
        case op::up_send:
        case op::up_recv:
          if (fwd) fwd->on_cqe(t, cqe);
          break;
        case op::spool_write:
        case op::spool_sync:
        case op::spool_read:
          if (spool != nullptr) spool->on_cqe(t, cqe);
          break;
        case op::cancel:
        case op::wake:
        case op::connect:  // client-side op (tollgate-load); never issued by a shard
        case op::none: break;
      }
    });
    if (fwd) fwd->poll(now);
    if (spool != nullptr) spool->poll(fwd ? fwd->records_released() : 0);
    if (!ack_waiters.empty()) check_acks();
    // Parked requests go again as soon as the consumer freed ring space (or
    // the spool made room), not a tick later: under back pressure a tick is a
    // long time.
    if (!parked_slots.empty() && progress() != parked_tried_at) retry_parked();
    for (std::size_t i = 0; i < dirty.size(); ++i) flush(dirty[i]);
    dirty.clear();
    buffers->publish();
    // Also wait for the cancelled accept to complete: until then the kernel
    // holds the listening socket, which stays in the SO_REUSEPORT group and
    // takes connections that nobody will ever accept (with DEFER_TASKRUN the
    // cancellation finishes only while this thread waits on the ring).
    // With an HTTP upstream the shard keeps forwarding until its ring is
    // empty or the drain deadline passes.
    // With a spool, what is not delivered by then stays in it for the next start.
    const bool delivered = (!fwd || fwd->idle()) && (spool == nullptr || spool->caught_up());
    if (draining && open == 0 && !accepting && (delivered || now >= drain_deadline) &&
        (spool == nullptr || !spool->io_in_flight())) {
      break;
    }
  }
  finish_shutdown();
}

void shard::impl::finish_shutdown() {
  if (listen_fd >= 0) ::close(listen_fd);
  std::uint64_t left = 0;
  std::uint64_t in_spool = 0;
  if (spool != nullptr) {
    // Undelivered events stay in the spool for the next start; only events
    // that never reached it (a disk that kept failing) are lost.
    left = spool->close();
    in_spool = spool->events_waiting();
  } else if (fwd) {
    left = fwd->events_left();
  }
  process.events_left.fetch_add(left);
  if (fwd) fwd->close();
  uring->submit();
  // The kernel must be done with every buffer before they are freed: the
  // buffer ring goes first, then the ring itself (its exit cancels and reaps
  // what is still in flight), then the forwarder's links and their buffers.
  buffers.reset();
  uring.reset();
  fwd.reset();
  if (spool != nullptr) {
    log::info("shard stopped", {{"shard", index}, {"events_left", left}, {"events_left_in_spool", in_spool}});
  } else {
    log::info("shard stopped", {{"shard", index}, {"events_left", left}});
  }
}

void shard::impl::arm_accept() {
  io_uring_sqe* s = uring->sqe();
  io_uring_prep_multishot_accept(s, listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, reactor::encode(op::accept, 0, 0));
  accepting = true;
}

void shard::impl::arm_tick() {
  io_uring_sqe* s = uring->sqe();
  io_uring_prep_timeout(s, &tick_ts, 0, 0);
  io_uring_sqe_set_data64(s, reactor::encode(op::tick, 0, 0));
}

void shard::impl::arm_recv(connection& c, std::uint32_t slot) {
  io_uring_sqe* s = uring->sqe();
  io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = recv_group;
  io_uring_sqe_set_data64(s, reactor::encode(op::recv, slot, c.gen));
  c.recv_armed = true;
  c.recv_cancelling = false;
}

void shard::impl::cancel_recv(connection& c, std::uint32_t slot) {
  if (!c.recv_armed || c.recv_cancelling) return;
  io_uring_sqe* s = uring->sqe();
  io_uring_prep_cancel64(s, reactor::encode(op::recv, slot, c.gen), 0);
  io_uring_sqe_set_data64(s, reactor::encode(op::cancel, slot, c.gen));
  c.recv_cancelling = true;
}

void shard::impl::on_accept(const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) accepting = false;
  if (cqe.res < 0) {
    if (cqe.res != -ECANCELED && !draining) {
      log::warn("accept failed", {{"shard", index}, {"error", std::strerror(-cqe.res)}});
    }
  } else {
    const int fd = cqe.res;
    if (draining || open >= opts.max_connections) {
      ::close(fd);
      counters.connections_refused.add();
    } else {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::uint32_t slot;
      if (!free_slots.empty()) {
        slot = free_slots.back();
        free_slots.pop_back();
      } else {
        slot = static_cast<std::uint32_t>(conns.size());
        conns.push_back(std::make_unique<connection>(opts.limits));
      }
      connection& c = *conns[slot];
      c.fd = fd;
      c.in_use = true;
      ++open;
      counters.connections_accepted.add();
      counters.connections_open.set(static_cast<std::int64_t>(open));
      set_deadline(c, dl_idle, opts.idle_timeout_ms);
      arm_recv(c, slot);
    }
  }
  if (!accepting && !draining) arm_accept();
}

void shard::impl::on_recv(const io_uring_cqe& cqe, std::uint32_t slot) {
  connection& c = *conns[slot];
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) c.recv_armed = false;
  if (c.closing) {
    if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) buffers->give_back(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    maybe_release(c, slot);
    return;
  }
  if (cqe.res > 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    counters.bytes_received.add(static_cast<std::uint64_t>(cqe.res));
    feed(c, slot, buffers->buffer(bid), static_cast<std::size_t>(cqe.res));
    buffers->give_back(bid);
  } else if (cqe.res == 0) {
    // A client may half-close after sending its request: answer what was
    // received, then close. A request cut short by the close is dropped.
    c.peer_closed = true;
    if (c.lingering || (!c.send_inflight && c.out_pending.empty() && !c.parked && !c.awaiting_ack)) {
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
  if ((cqe.flags & IORING_CQE_F_BUFFER) != 0 && cqe.res <= 0) {
    buffers->give_back(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
  }
  mark_dirty(c, slot);
}

void shard::impl::feed(connection& c, std::uint32_t slot, const char* data, std::size_t len) {
  if (c.lingering || c.close_after_send) return;  // a final response is queued: discard
  if (c.has_stash() || c.parked || !wants_input(c)) {
    c.stash.append(data, len);
    drain_stash(c, slot);
    return;
  }
  // Common case: feed straight from the receive buffer; keep only a remainder.
  std::size_t off = 0;
  // Loop until the parser wants more: a request without a body completes on a
  // feed that consumes nothing, right after its head.
  while (wants_input(c)) {
    const http::feed_result r = c.parser.feed({data + off, len - off});
    off += r.consumed;
    if (r.ev == http::event::need_more) break;
    if (r.ev == http::event::head_complete) {
      c.head_done = true;
      const http::request& req = c.parser.current();
      set_deadline(c, dl_body, opts.body_timeout_ms);
      if (req.expect_continue && req.version_minor >= 1) {
        http::write_continue(c.out_pending);
        mark_dirty(c, slot);
      }
    } else if (r.ev == http::event::message_complete) {
      finish_request(c, slot);
    } else {
      const http_failure f = map_parse_error(r.error);
      counters.http_errors[static_cast<std::size_t>(f.kind)].add();
      answer_error(c, slot, f.status, f.detail);
      break;
    }
  }
  if (off < len && !c.close_after_send) c.stash.append(data + off, len - off);
  if (c.parser.in_request() && !c.head_done && c.deadline_kind != dl_header) {
    set_deadline(c, dl_header, opts.header_timeout_ms);
  }
  mark_dirty(c, slot);
}

// Feeds the stash (input that arrived while the parser could not take it).
void shard::impl::drain_stash(connection& c, std::uint32_t slot) {
  while (c.has_stash() && wants_input(c)) {
    const std::size_t len = c.stash.size() - c.stash_off;
    std::string pending;
    pending.swap(c.stash);
    const std::size_t off = c.stash_off;
    c.stash_off = 0;
    feed(c, slot, pending.data() + off, len);
    if (c.stash.empty()) {
      pending.clear();
      c.stash.swap(pending);  // keep the capacity
    }
  }
  if (!c.has_stash()) {
    c.stash.clear();
    c.stash_off = 0;
  }
}

void shard::impl::finish_request(connection& c, std::uint32_t slot) {
  const http::request& req = c.parser.current();
  const bool expired = c.parked && now - c.parked_since >= opts.admit_timeout_ms;
  const bool last = !req.keep_alive || draining;
  http::connection hdr = last ? http::connection::close
                              : (req.version_minor == 0 ? http::connection::keep_alive_http10 : http::connection::keep_alive);
  request_context ctx;
  ctx.now_ms = now;
  ctx.first_try_ms = c.parked ? c.parked_since : now;
  ctx.first_try_ns = c.parked ? c.parked_since_ns : 0;
  ctx.admit_expired = expired;
  const outcome o = handle->handle(req, hdr, c.out_pending, ctx);
  if (o == outcome::park) {
    c.park_bytes = ctx.park_bytes;
    if (!c.parked) {
      c.parked = true;
      c.parked_since = now;
      c.parked_since_ns = monotonic_ns();
      counters.backpressure_pauses.add();
      if (!c.parked_listed) {
        parked_slots.push_back(slot);
        c.parked_listed = true;
      }
    }
    set_deadline(c, dl_none, 0);
    return;
  }
  if (o == outcome::drop) {
    c.parked = false;
    close_conn(c, slot);
    return;
  }
  if (o == outcome::await_ack) {
    // Admitted; the answer waits for the upstream. No further request is read
    // meanwhile, so responses stay in order.
    c.awaiting_ack = true;
    c.ack_position = ctx.ack_position;
    c.ack_for = ctx.wait;
    c.ack_status = ctx.ack_status;
    c.ack_since = now;
    c.ack_conn = hdr;
    ack_waiters.push_back(slot);
  }
  c.parked = false;
  c.head_done = false;
  c.parser.next();
  if (last) c.close_after_send = true;
  else set_deadline(c, dl_idle, opts.idle_timeout_ms);
  mark_dirty(c, slot);
}

void shard::impl::answer_error(connection& c, std::uint32_t slot, int status, std::string_view detail) {
  http::write_problem(c.out_pending, status, detail, http::connection::close);
  c.close_after_send = true;
  c.parked = false;
  c.parser.reset();
  c.stash.clear();
  c.stash_off = 0;
  mark_dirty(c, slot);
}

bool shard::impl::ack_reached(const connection& c) const {
  switch (c.ack_for) {
    case ack_wait::ring_released: return ring.read_begin() >= c.ack_position;
    case ack_wait::spool_synced: return spool->synced_seq() >= c.ack_position;
    case ack_wait::spool_delivered: return spool->delivered_seq() >= c.ack_position;
  }
  return false;
}

// --ack upstream / durable: answer every waiter whose events the upstream
// accepted (or the spool synced), or 504 once --ack-timeout-ms passed. A
// durable waiter whose events the failing disk has not taken gets 503 now.
void shard::impl::check_acks() {
  std::size_t keep = 0;
  for (std::size_t i = 0; i < ack_waiters.size(); ++i) {
    const std::uint32_t slot = ack_waiters[i];
    connection& c = *conns[slot];
    if (!c.in_use || !c.awaiting_ack || c.closing) continue;
    const http::connection hdr = c.ack_conn;
    const auto ep = c.ack_status == 202 ? metrics::endpoint::ingest_v3 : metrics::endpoint::ingest_v1;
    if (ack_reached(c)) {
      http::write_empty(c.out_pending, c.ack_status, hdr);
      counters.count_request(ep, c.ack_status);
    } else if (c.ack_for == ack_wait::spool_synced && spool->failing() && spool->written_seq() < c.ack_position) {
      http::write_problem(c.out_pending, 503,
                          "the spool could not write the events to disk (disk full or an I/O error); retry later",
                          hdr, std::array<std::pair<std::string_view, std::string_view>, 1>{{{"Retry-After", "1"}}});
      counters.count_request(ep, 503);
      counters.ingest_rejected[static_cast<std::size_t>(metrics::reject_reason::spool_error)].add();
    } else if (now - c.ack_since >= opts.ack_timeout_ms || (draining && now >= drain_deadline)) {
      http::write_problem(c.out_pending, 504,
                          c.ack_for == ack_wait::spool_synced
                              ? "the spool has not made the events durable in time (--ack-timeout-ms); they are "
                                "buffered and will be delivered, so retrying is safe (OpenMeter deduplicates on "
                                "source and id)"
                              : "the upstream has not accepted the events in time (--ack-timeout-ms); they stay "
                                "buffered and will be delivered, so retrying is safe (OpenMeter deduplicates on "
                                "source and id)",
                          hdr);
      counters.count_request(ep, 504);
      counters.ack_timeouts.add();
    } else {
      ack_waiters[keep++] = slot;
      continue;
    }
    c.awaiting_ack = false;
    if (hdr != http::connection::close) set_deadline(c, dl_idle, opts.idle_timeout_ms);
    drain_stash(c, slot);
    mark_dirty(c, slot);
  }
  ack_waiters.resize(keep);
}

bool shard::impl::wants_input(const connection& c) const {
  return !c.parked && !c.awaiting_ack && !c.close_after_send && !c.lingering && !c.closing &&
         c.out_pending.size() < opts.max_output_bytes;
}

void shard::impl::mark_dirty(connection& c, std::uint32_t slot) {
  (void)c;
  dirty.push_back(slot);
}

// End of an iteration: start a send if there is output, and make the recv
// state match what the connection wants.
void shard::impl::flush(std::uint32_t slot) {
  if (slot >= conns.size()) return;
  connection& c = *conns[slot];
  if (!c.in_use || c.closing) return;
  if (!c.send_inflight && !c.out_pending.empty()) {
    c.out_sending.swap(c.out_pending);
    c.out_pending.clear();
    c.sent = 0;
    io_uring_sqe* s = uring->sqe();
    io_uring_prep_send(s, c.fd, c.out_sending.data(), c.out_sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, reactor::encode(op::send, slot, c.gen));
    c.send_inflight = true;
  }
  if (!c.send_inflight && c.out_pending.empty() && c.close_after_send && !c.lingering && !c.awaiting_ack &&
      !c.parked) {
    if (c.peer_closed) {
      close_conn(c, slot);
      return;
    }
    start_linger(c, slot);
  }
  update_reading(c, slot);
}

void shard::impl::update_reading(connection& c, std::uint32_t slot) {
  if (c.closing) return;
  const bool want = !c.peer_closed && (wants_input(c) || c.lingering || c.close_after_send);
  if (want && !c.recv_armed) arm_recv(c, slot);
  else if (!want && c.recv_armed) cancel_recv(c, slot);
}

void shard::impl::on_send(const io_uring_cqe& cqe, std::uint32_t slot) {
  connection& c = *conns[slot];
  c.send_inflight = false;
  if (cqe.res < 0) {
    close_conn(c, slot);
    return;
  }
  counters.bytes_sent.add(static_cast<std::uint64_t>(cqe.res));
  c.sent += static_cast<std::size_t>(cqe.res);
  if (c.closing) {
    maybe_release(c, slot);
    return;
  }
  if (c.sent < c.out_sending.size()) {
    io_uring_sqe* s = uring->sqe();
    io_uring_prep_send(s, c.fd, c.out_sending.data() + c.sent, c.out_sending.size() - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, reactor::encode(op::send, slot, c.gen));
    c.send_inflight = true;
    return;
  }
  c.out_sending.clear();
  c.sent = 0;
  // Output drained below the bound: input that waited may go on.
  if (c.has_stash()) drain_stash(c, slot);
  mark_dirty(c, slot);
}

void shard::impl::start_linger(connection& c, std::uint32_t slot) {
  // Shut our side, then read and discard until the client closes or the
  // linger deadline: closing with unread input would send RST and could
  // destroy the response before the client reads it.
  ::shutdown(c.fd, SHUT_WR);
  c.lingering = true;
  c.stash.clear();
  c.stash_off = 0;
  // While stopping, a client that keeps its end open must not hold shutdown
  // for the whole linger period.
  set_deadline(c, dl_linger, draining ? std::min(opts.linger_ms, stop_linger_ms) : opts.linger_ms);
  (void)slot;
}

void shard::impl::close_conn(connection& c, std::uint32_t slot) {
  if (c.closing) return;
  c.closing = true;
  ::shutdown(c.fd, SHUT_RDWR);
  if (c.recv_armed) cancel_recv(c, slot);
  maybe_release(c, slot);
}

// Frees the slot once the kernel holds no operation on it.
void shard::impl::maybe_release(connection& c, std::uint32_t slot) {
  if (c.recv_armed || c.send_inflight) return;
  ::close(c.fd);
  c.fd = -1;
  c.in_use = false;
  c.gen = (c.gen + 1) & reactor::generation_mask;
  c.parser.reset();
  c.stash.clear();
  c.stash.shrink_to_fit();
  c.stash_off = 0;
  c.out_pending.clear();
  c.out_sending.clear();
  if (c.out_pending.capacity() > 65536) c.out_pending.shrink_to_fit();
  if (c.out_sending.capacity() > 65536) c.out_sending.shrink_to_fit();
  c.sent = 0;
  c.recv_cancelling = c.send_inflight = c.parked = c.head_done = c.awaiting_ack = false;
  c.close_after_send = c.peer_closed = c.lingering = c.closing = false;
  set_deadline(c, dl_none, 0);
  free_slots.push_back(slot);
  --open;
  counters.connections_open.set(static_cast<std::int64_t>(open));
}

void shard::impl::set_deadline(connection& c, int kind, unsigned ms) {
  c.deadline_kind = kind;
  c.deadline_ms = kind == dl_none ? 0 : now + ms;
}

void shard::impl::on_tick() {
  arm_tick();
  if (fwd) fwd->tick(now);
  if (spool != nullptr) spool->tick();
  if (!parked_slots.empty()) retry_parked();  // admit timeouts, injected delays
  if (!draining && process.stopping.load(std::memory_order_acquire)) begin_drain();
  const bool force = draining && now >= drain_deadline;
  for (std::uint32_t slot = 0; slot < conns.size(); ++slot) {
    connection& c = *conns[slot];
    if (!c.in_use || c.closing) continue;
    if (force) {
      close_conn(c, slot);
      continue;
    }
    if (c.parked) continue;  // retried below
    if (c.deadline_ms == 0 || now < c.deadline_ms) continue;
    switch (c.deadline_kind) {
      case dl_header:
      case dl_body:
        counters.http_errors[static_cast<std::size_t>(metrics::http_error::header_timeout)].add();
        answer_error(c, slot, 408, c.deadline_kind == dl_header ? "request head not received in time (--header-timeout-ms)"
                                                                : "request body not received in time (--body-timeout-ms)");
        set_deadline(c, dl_none, 0);
        break;
      case dl_idle:
        counters.idle_timeouts.add();
        close_conn(c, slot);
        break;
      case dl_linger:
        close_conn(c, slot);
        break;
      default: break;
    }
  }
}

// A parked request that waits for ring space is asked again only once the
// space could be there (twice what it needs, for wrap-around waste, and under
// the high watermark), or when its admit timeout ran out: each try validates
// the whole body again.
bool shard::impl::worth_retry(const connection& c) const {
  if (c.park_bytes == 0 || now - c.parked_since >= opts.admit_timeout_ms) return true;
  const std::size_t used = ring.used_bytes();
  const std::size_t cap = ring.capacity();
  if (static_cast<double>(used) > opts.high_watermark * static_cast<double>(cap)) return false;
  return cap - used >= 2 * c.park_bytes;
}

// Asks the handler again for every parked request (in arrival order); those
// it admits or answers go on with their connection's pending input.
// Changes whenever a parked request could have room now.
std::uint64_t shard::impl::progress() const { return ring.read_begin() + (spool != nullptr ? spool->progress() : 0); }

void shard::impl::retry_parked() {
  parked_tried_at = progress();
  std::size_t keep = 0;
  for (std::size_t i = 0; i < parked_slots.size(); ++i) {
    const std::uint32_t slot = parked_slots[i];
    connection& c = *conns[slot];
    if (!c.in_use || c.closing || !c.parked) {
      c.parked_listed = false;
      continue;
    }
    if (!worth_retry(c)) {
      parked_slots[keep++] = slot;
      continue;
    }
    finish_request(c, slot);
    if (c.parked) {
      parked_slots[keep++] = slot;
      continue;
    }
    c.parked_listed = false;
    drain_stash(c, slot);
    mark_dirty(c, slot);
  }
  parked_slots.resize(keep);
}

void shard::impl::begin_drain() {
  draining = true;
  drain_deadline = now + opts.drain_timeout_ms;
  if (accepting) {
    io_uring_sqe* s = uring->sqe();
    io_uring_prep_cancel64(s, reactor::encode(op::accept, 0, 0), 0);
    io_uring_sqe_set_data64(s, reactor::encode(op::cancel, 0, 0));
  }
  // The kernel keeps the socket alive until the cancelled accept completes;
  // closing it now stops new connections from queueing on this shard.
  ::close(listen_fd);
  listen_fd = -1;
  // Idle keep-alive connections close now; the others after their response.
  for (std::uint32_t slot = 0; slot < conns.size(); ++slot) {
    connection& c = *conns[slot];
    if (!c.in_use || c.closing) continue;
    if (!c.parser.in_request() && !c.has_stash() && !c.parked && !c.awaiting_ack && !c.send_inflight &&
        c.out_pending.empty()) {
      close_conn(c, slot);
    }
  }
}

}  // namespace tg::server
