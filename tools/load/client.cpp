// SPDX-License-Identifier: Apache-2.0
// A load thread's io_uring loop. Each iteration: dispatch requests that are
// due, reconnect what is idle, flush (one send per connection with all its
// queued requests, recv re-arms), then wait for completions or the next due
// time, and handle the batch. Requests always leave in the order of the
// schedule; a connection that is behind sends as soon as it can, and its
// latency counts from the intended time (no coordinated omission).
#include "client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <memory>
#include <queue>
#include <vector>

#include "connection.hpp"
#include "event_generator.hpp"
#include "rate_scheduler.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"

namespace tg::load {
namespace {
// The load generator runs no loop of components: its one owner id tags its own
// operations, which it decodes itself.
enum class op : std::uint8_t { none = 0, connect, send, recv, cancel };
constexpr reactor::owner_id client_owner = 1;
std::uint64_t tag(op o, std::uint32_t slot, std::uint32_t gen) { return reactor::encode(client_owner, o, slot, gen); }

constexpr unsigned uring_entries = 4096;
constexpr std::uint16_t recv_group = 1;
constexpr unsigned recv_buffer_count = 1024;  // power of two; 4 MiB of receive buffers per thread
constexpr unsigned recv_buffer_bytes = 4096;  // a response to a POST is a few hundred bytes
constexpr std::uint64_t tick_ns = 100'000'000;             // longest wait; timeouts are checked this often
constexpr std::uint64_t publish_interval_ns = 250'000'000;  // progress snapshots
constexpr std::uint64_t reconnect_delay_ns = 100'000'000;   // after a failed connect
constexpr std::uint64_t ns_per_ms = 1'000'000;

// Only the status line and headers matter to the load; bodies are framed, not kept.
http::response_limits response_limits_for_load() {
  http::response_limits l;
  l.keep_body = false;
  return l;
}

}  // namespace

std::uint64_t now_ns() noexcept {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(t.tv_nsec);
}

run_control::run_control(const options& o, std::uint64_t run, std::uint64_t s)
    : opts(o), run_id(run), seed(s), ready(static_cast<std::ptrdiff_t>(o.threads), start_gate{this}) {}

void run_control::start_gate::operator()() noexcept {
  rc->start_ns.store(now_ns());
  if (rc->first_connects.load() == 0) rc->unreachable.store(true);
}

namespace {

class worker {
 public:
  worker(run_control& rc, unsigned index, progress_slot* progress, worker_result& out);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  void run();

 private:
  void connect_phase();
  void main_loop();
  void wait_and_reap(std::uint64_t wait_ns);
  void on_cqe(const io_uring_cqe& cqe);
  void start_connect(connection& c, std::uint32_t slot);
  void on_connect(connection& c, std::uint32_t slot, int res, bool stale);
  void connect_failed(connection& c, std::uint32_t slot, int err);
  void on_send(connection& c, std::uint32_t slot, int res, bool stale);
  void on_recv(connection& c, std::uint32_t slot, const io_uring_cqe& cqe, bool stale);
  void feed(connection& c, std::uint32_t slot, const char* data, std::size_t len);
  bool on_response(connection& c, std::uint32_t slot);
  void fail(connection& c, std::uint32_t slot);
  void close_conn(connection& c, std::uint32_t slot);
  void settle(connection& c, std::uint32_t slot);
  void pump(connection& c, std::uint32_t slot);
  bool has_next(const connection& c) const;
  void send_request(connection& c, std::uint32_t slot, std::uint64_t intended);
  void mark_dirty(connection& c, std::uint32_t slot);
  void flush(std::uint32_t slot);
  void check_timeouts();
  void publish();
  bool sending_done() const;

  run_control& rc_;
  const options& opts_;
  unsigned index_;
  progress_slot* progress_;
  worker_result& out_;
  stats& st_;
  bool open_loop_;
  std::uint32_t events_per_request_;
  __kernel_timespec connect_timeout_{};
  std::string request_prefix_;  // request line and headers up to "Content-Length: "
  std::string fixed_request_;   // --body: the whole request, sent as is
  std::string body_;            // scratch for a generated body
  event_generator gen_;
  rate_scheduler sched_{1.0, 1, 0};
  std::uint64_t now_ = 0;
  std::uint64_t end_ns_ = 0;    // 0: no time limit
  std::uint64_t next_tick_ = 0;
  std::uint64_t next_publish_ = 0;
  std::uint64_t drain_deadline_ = 0;
  std::uint64_t inflight_total_ = 0;
  std::size_t exhausted_ = 0;
  std::size_t connects_inflight_ = 0;

  // Destroyed in reverse order: buffers, then the ring (which cancels what
  // is still in flight), then the connections whose memory those ops used.
  std::vector<connection> conns_;
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint32_t> reconnect_;
  using due = std::pair<std::uint64_t, std::uint32_t>;  // (intended ns, slot)
  std::priority_queue<due, std::vector<due>, std::greater<>> schedule_;
  std::unique_ptr<reactor::uring> ring_;
  std::unique_ptr<reactor::buffer_ring> buffers_;
};

worker::worker(run_control& rc, unsigned index, progress_slot* progress, worker_result& out)
    : rc_(rc), opts_(rc.opts), index_(index), progress_(progress), out_(out), st_(out.st),
      open_loop_(rc.opts.rate > 0), events_per_request_(rc.opts.body.empty() ? rc.opts.events_per_request : rc.opts.body_events),
      gen_(generator_options{rc.run_id, static_cast<std::uint16_t>(index), rc.seed + index,
                             rc.opts.seeder ? time_mode::past_days : time_mode::now, 100}) {
  connect_timeout_.tv_sec = opts_.timeout_ms / 1000;
  connect_timeout_.tv_nsec = static_cast<long long>(opts_.timeout_ms % 1000) * 1'000'000LL;
  request_prefix_ = "POST " + opts_.where.path + " HTTP/1.1\r\nHost: " + opts_.where.host_header +
                    "\r\nContent-Type: " + opts_.content_type + "\r\n";
  for (const std::string& h : opts_.headers) request_prefix_ += h + "\r\n";
  request_prefix_ += "Content-Length: ";
  if (!opts_.body.empty()) fixed_request_ = request_prefix_ + std::to_string(opts_.body.size()) + "\r\n\r\n" + opts_.body;

  const http::response_limits limits = response_limits_for_load();
  conns_.reserve(opts_.connections / opts_.threads + 1);
  for (std::uint32_t i = index; i < opts_.connections; i += opts_.threads) conns_.emplace_back(i, opts_.pipeline, limits);
}

worker::~worker() {
  for (connection& c : conns_)
    if (c.fd >= 0) ::close(c.fd);
}

void worker::run() {
  ring_ = std::make_unique<reactor::uring>(reactor::uring_options{uring_entries});
  buffers_ = std::make_unique<reactor::buffer_ring>(*ring_, recv_group, recv_buffer_count, recv_buffer_bytes);
  connect_phase();
  rc_.ready.arrive_and_wait();
  if (rc_.unreachable.load()) return;
  main_loop();
}

// Every connection's first connect, before the clock starts, so a run's
// numbers do not include the handshakes.
void worker::connect_phase() {
  now_ = now_ns();
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) start_connect(conns_[slot], slot);
  while (connects_inflight_ > 0) wait_and_reap(tick_ns);
  std::uint64_t up = 0;
  for (const connection& c : conns_) up += c.state == conn_state::open ? 1 : 0;
  rc_.first_connects.fetch_add(up);
}

void worker::main_loop() {
  const std::uint64_t start = rc_.start_ns.load();
  now_ = now_ns();
  if (opts_.duration_s > 0) end_ns_ = start + static_cast<std::uint64_t>(opts_.duration_s * 1e9);
  sched_ = rate_scheduler(open_loop_ ? opts_.rate : 1.0, opts_.connections, start);
  next_tick_ = now_ + tick_ns;
  next_publish_ = now_;
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    connection& c = conns_[slot];
    if (!has_next(c)) {
      c.exhausted = true;
      ++exhausted_;
    } else if (open_loop_) {
      schedule_.emplace(sched_.intended(c.global, 0), slot);
      c.in_schedule = true;
    } else {
      pump(c, slot);
    }
  }

  for (;;) {
    const bool done = sending_done();
    if (done && drain_deadline_ == 0) drain_deadline_ = now_ + opts_.timeout_ms * ns_per_ms;
    if (!done) {
      // Open loop: fire every connection whose intended time has come.
      while (!schedule_.empty() && schedule_.top().first <= now_) {
        const std::uint32_t slot = schedule_.top().second;
        schedule_.pop();
        conns_[slot].in_schedule = false;
        pump(conns_[slot], slot);
      }
      for (std::size_t i = 0; i < reconnect_.size();) {
        connection& c = conns_[reconnect_[i]];
        if (c.retry_at <= now_) {
          start_connect(c, reconnect_[i]);
          reconnect_[i] = reconnect_.back();
          reconnect_.pop_back();
        } else {
          ++i;
        }
      }
    }
    for (std::size_t i = 0; i < dirty_.size(); ++i) flush(dirty_[i]);
    dirty_.clear();
    buffers_->publish();
    if (now_ >= next_tick_) {
      check_timeouts();
      next_tick_ = now_ + tick_ns;
    }
    if (progress_ != nullptr && now_ >= next_publish_) {
      publish();
      next_publish_ = now_ + publish_interval_ns;
    }
    if (done && (inflight_total_ == 0 || now_ >= drain_deadline_)) break;

    std::uint64_t wait = next_tick_ > now_ ? next_tick_ - now_ : 0;
    if (!done && !schedule_.empty()) wait = std::min(wait, schedule_.top().first > now_ ? schedule_.top().first - now_ : 0);
    if (!done && end_ns_ != 0) wait = std::min(wait, end_ns_ > now_ ? end_ns_ - now_ : 0);
    if (done) wait = std::min(wait, drain_deadline_ - now_);
    wait_and_reap(wait);
  }
  // Requests still unanswered when the drain gave up count as timeouts.
  st_.errors.timeout += inflight_total_;
  out_.finished_ns = now_;
  if (progress_ != nullptr) publish();
}

bool worker::sending_done() const {
  if (rc_.stop.load(std::memory_order_relaxed)) return true;
  if (end_ns_ != 0 && now_ >= end_ns_) return true;
  return exhausted_ == conns_.size();
}

void worker::wait_and_reap(std::uint64_t wait_ns) {
  __kernel_timespec ts{};
  ts.tv_sec = static_cast<long long>(wait_ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long long>(wait_ns % 1'000'000'000u);
  io_uring_cqe* first = nullptr;
  // Also with a zero wait: under DEFER_TASKRUN completions are only produced
  // when we enter the kernel asking for events.
  io_uring_submit_and_wait_timeout(ring_->raw(), &first, 1, &ts, nullptr);
  now_ = now_ns();
  ring_->reap([this](const io_uring_cqe& cqe) { on_cqe(cqe); });
}

void worker::on_cqe(const io_uring_cqe& cqe) {
  const reactor::tag t = reactor::decode(cqe.user_data);
  const op kind = static_cast<op>(t.op);
  if (t.owner != client_owner || kind == op::cancel || kind == op::none || t.slot >= conns_.size()) return;  // a connect's linked timeout
  connection& c = conns_[t.slot];
  const bool stale = t.gen != c.gen;
  switch (kind) {
    case op::connect: on_connect(c, t.slot, cqe.res, stale); break;
    case op::send: on_send(c, t.slot, cqe.res, stale); break;
    case op::recv: on_recv(c, t.slot, cqe, stale); break;
    default: break;
  }
}

void worker::start_connect(connection& c, std::uint32_t slot) {
  c.fd = ::socket(opts_.where.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    connect_failed(c, slot, errno);
    return;
  }
  c.state = conn_state::connecting;
  ++c.pending_ops;
  ++connects_inflight_;
  io_uring_sqe* s = ring_->sqe();
  io_uring_prep_connect(s, c.fd, reinterpret_cast<const sockaddr*>(&opts_.where.addr), opts_.where.addr_len);
  io_uring_sqe_set_data64(s, tag(op::connect, slot, c.gen));
  s->flags |= IOSQE_IO_LINK;
  // A linked timeout bounds the connect (an unanswered SYN would take minutes);
  // ring_->sqe() may submit the first half alone if the SQ is full, which only
  // loses the bound for that one connect.
  io_uring_sqe* t = ring_->sqe();
  io_uring_prep_link_timeout(t, &connect_timeout_, 0);
  io_uring_sqe_set_data64(t, tag(op::cancel, slot, c.gen));
}

void worker::on_connect(connection& c, std::uint32_t slot, int res, bool stale) {
  --c.pending_ops;
  --connects_inflight_;
  if (stale || c.state != conn_state::connecting) {
    settle(c, slot);
    return;
  }
  if (res < 0) {
    connect_failed(c, slot, -res);
    return;
  }
  ++st_.connects;
  c.state = conn_state::open;
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  mark_dirty(c, slot);  // arms the recv
  if (rc_.start_ns.load(std::memory_order_relaxed) != 0) pump(c, slot);
}

// Counted, and retried after reconnect_delay_ns (a refused connect returns at
// once; retrying in a tight loop would only burn the CPU the target needs).
void worker::connect_failed(connection& c, std::uint32_t slot, int err) {
  ++st_.errors.connect;
  int expected = 0;
  rc_.connect_errno.compare_exchange_strong(expected, err);
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.state = conn_state::idle;
  ++c.gen;
  c.retry_at = now_ + reconnect_delay_ns;
  reconnect_.push_back(slot);
}

void worker::on_send(connection& c, std::uint32_t slot, int res, bool stale) {
  --c.pending_ops;
  c.send_inflight = false;
  if (stale || c.state != conn_state::open) {
    settle(c, slot);
    return;
  }
  if (res < 0) {
    ++st_.errors.write;
    fail(c, slot);
    return;
  }
  c.sent += static_cast<std::size_t>(res);
  if (c.sent < c.out_sending.size()) {
    ++c.pending_ops;
    c.send_inflight = true;
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_send(s, c.fd, c.out_sending.data() + c.sent, c.out_sending.size() - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(op::send, slot, c.gen));
    return;
  }
  c.out_sending.clear();
  if (!c.out_pending.empty()) mark_dirty(c, slot);
}

void worker::on_recv(connection& c, std::uint32_t slot, const io_uring_cqe& cqe, bool stale) {
  const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
    --c.pending_ops;
    c.recv_armed = false;
  }
  if (stale || c.state != conn_state::open) {
    if (has_buffer) buffers_->give_back(bid);
    settle(c, slot);
    return;
  }
  if (cqe.res > 0) {
    feed(c, slot, buffers_->buffer(bid), static_cast<std::size_t>(cqe.res));
    buffers_->give_back(bid);
  } else {
    if (has_buffer) buffers_->give_back(bid);
    if (cqe.res == 0) {
      // The server closed: a response framed by the close completes here.
      const http::response_feed_result r = c.parser.finish();
      if (r.ev == http::response_event::response_complete && !on_response(c, slot)) return;
      if (!c.fifo.empty()) ++st_.errors.read;
      fail(c, slot);
      return;
    }
    if (cqe.res != -ENOBUFS) {  // ENOBUFS: every buffer in use; re-armed by the flush
      ++st_.errors.read;
      fail(c, slot);
      return;
    }
  }
  if (c.state == conn_state::open && !c.recv_armed) mark_dirty(c, slot);
}

void worker::feed(connection& c, std::uint32_t slot, const char* data, std::size_t len) {
  std::size_t off = 0;
  while (off < len) {
    const http::response_feed_result r = c.parser.feed({data + off, len - off});
    off += r.consumed;
    if (r.ev == http::response_event::need_more) return;
    if (r.ev == http::response_event::error) {
      ++st_.errors.parse;
      fail(c, slot);
      return;
    }
    if (!on_response(c, slot)) return;
    c.parser.next();
  }
}

// Returns false when the connection was closed (stop feeding it).
bool worker::on_response(connection& c, std::uint32_t slot) {
  const http::response& resp = c.parser.current();
  if (c.fifo.empty()) {  // a response nobody asked for
    ++st_.errors.parse;
    fail(c, slot);
    return false;
  }
  const inflight r = c.fifo.pop();
  --inflight_total_;
  st_.latency.record(now_ > r.intended_ns ? now_ - r.intended_ns : 0);
  ++st_.responses;
  st_.events_answered += r.events;
  ++st_.status[resp.status >= 100 && resp.status < max_status ? resp.status : 0];
  if (resp.status >= 200 && resp.status < 300) st_.accepted_events += r.events;
  else ++st_.errors.status;
  if (!resp.keep_alive) {
    if (!c.fifo.empty()) ++st_.errors.read;  // pipelined requests after a closing response are lost
    fail(c, slot);
    return false;
  }
  pump(c, slot);
  return true;
}

// A connection that failed mid-run: close it and reconnect at once.
void worker::fail(connection& c, std::uint32_t slot) {
  close_conn(c, slot);
  c.retry_at = now_;
}

void worker::close_conn(connection& c, std::uint32_t slot) {
  if (c.state == conn_state::idle || c.state == conn_state::closing) return;
  // shutdown() ends the multishot recv and any send in flight; the slot is
  // reused only when their completions are back (settle()).
  ::shutdown(c.fd, SHUT_RDWR);
  ::close(c.fd);
  c.fd = -1;
  ++c.gen;
  c.state = conn_state::closing;
  inflight_total_ -= c.fifo.size();
  c.fifo.clear();
  c.parser.reset();
  c.out_pending.clear();
  settle(c, slot);
}

void worker::settle(connection& c, std::uint32_t slot) {
  if (c.state != conn_state::closing || c.pending_ops != 0) return;
  c.state = conn_state::idle;
  c.out_sending.clear();
  c.sent = 0;
  c.recv_armed = false;
  c.send_inflight = false;
  reconnect_.push_back(slot);
}

bool worker::has_next(const connection& c) const {
  if (opts_.requests != 0 && sched_.sequence(c.global, c.next_k) >= opts_.requests) return false;
  if (open_loop_ && end_ns_ != 0 && sched_.intended(c.global, c.next_k) >= end_ns_) return false;
  return true;
}

// Sends what the connection may send now. Closed loop: refill the pipeline.
// Open loop: every request whose time has come, up to the pipeline depth; the
// next one goes to the timer heap unless the connection is full (then the
// response that frees a slot calls pump again).
void worker::pump(connection& c, std::uint32_t slot) {
  if (c.state != conn_state::open || c.exhausted || c.in_schedule || sending_done()) return;
  while (!c.fifo.full()) {
    if (!has_next(c)) {
      c.exhausted = true;
      ++exhausted_;
      return;
    }
    if (!open_loop_) {
      send_request(c, slot, now_);
      continue;
    }
    const std::uint64_t t = sched_.intended(c.global, c.next_k);
    if (t > now_) {
      schedule_.emplace(t, slot);
      c.in_schedule = true;
      return;
    }
    send_request(c, slot, t);
  }
}

void worker::send_request(connection& c, std::uint32_t slot, std::uint64_t intended) {
  if (!fixed_request_.empty()) {
    c.out_pending += fixed_request_;
  } else {
    body_.clear();
    gen_.append_body(body_, events_per_request_, wall_now());
    char len[24];
    const auto r = std::to_chars(len, len + sizeof len, body_.size());
    c.out_pending += request_prefix_;
    c.out_pending.append(len, r.ptr);
    c.out_pending += "\r\n\r\n";
    c.out_pending += body_;
  }
  c.fifo.push({intended, now_, events_per_request_});
  ++c.next_k;
  ++inflight_total_;
  ++st_.sent;
  st_.events_sent += events_per_request_;
  mark_dirty(c, slot);
}

void worker::mark_dirty(connection& c, std::uint32_t slot) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(slot);
}

void worker::flush(std::uint32_t slot) {
  connection& c = conns_[slot];
  c.dirty = false;
  if (c.state != conn_state::open) return;
  if (!c.send_inflight && !c.out_pending.empty()) {
    c.out_sending.swap(c.out_pending);
    c.out_pending.clear();
    c.sent = 0;
    ++c.pending_ops;
    c.send_inflight = true;
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_send(s, c.fd, c.out_sending.data(), c.out_sending.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(s, tag(op::send, slot, c.gen));
  }
  if (!c.recv_armed) {
    ++c.pending_ops;
    c.recv_armed = true;
    io_uring_sqe* s = ring_->sqe();
    io_uring_prep_recv_multishot(s, c.fd, nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = recv_group;
    io_uring_sqe_set_data64(s, tag(op::recv, slot, c.gen));
  }
}

// A request unanswered for --timeout: every request in flight on that
// connection counts as a timeout, and the connection starts over.
void worker::check_timeouts() {
  const std::uint64_t limit = opts_.timeout_ms * ns_per_ms;
  for (std::uint32_t slot = 0; slot < conns_.size(); ++slot) {
    connection& c = conns_[slot];
    if (c.state != conn_state::open || c.fifo.empty() || now_ - c.fifo.front().sent_ns < limit) continue;
    st_.errors.timeout += c.fifo.size();
    fail(c, slot);
  }
}

void worker::publish() {
  std::lock_guard<std::mutex> lock(progress_->m);
  progress_->snapshot = st_;
}

}  // namespace

void run_worker(run_control& rc, unsigned index, progress_slot* progress, worker_result& result) noexcept {
  try {
    worker w(rc, index, progress, result);
    w.run();
  } catch (const std::exception& e) {
    result.fatal = e.what();
    // Other threads wait at the start barrier for this one.
    if (rc.start_ns.load() == 0) rc.ready.arrive_and_drop();
  }
  if (result.finished_ns == 0) result.finished_ns = now_ns();
}

}  // namespace tg::load
