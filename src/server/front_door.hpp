// SPDX-License-Identifier: Apache-2.0
// The front door: one shard's listener, its connections and their HTTP/1.1,
// as a component of the shard's loop. It accepts (multishot), receives into
// the provided-buffer ring (multishot), parses with llhttp, hands complete
// requests to the handler, sends responses, and enforces every per-connection
// bound and timeout. Requests that wait (a full ring, --ack upstream or
// durable) are answered from poll() once what they wait for happened.
//
// Back pressure: a request the ring cannot take parks its connection, and a
// parked connection's multishot recv is cancelled, so the client's TCP window
// fills up instead of our memory. Parked requests are retried as soon as the
// output freed ring space (or the spool made room); after admit_timeout_ms
// the handler answers 503 + Retry-After. Unsent responses are bounded the
// same way, per connection and per shard (a client pipelining without
// reading), and so is the input held while a connection is not read.
// Out of descriptors, accepting pauses (accept_backoff.hpp) and what waits
// in the backlog is accepted into a direct descriptor and closed
// (backlog_shedder.hpp).
// Lives on its shard's thread; touched by nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "accept_backoff.hpp"
#include "backlog_shedder.hpp"
#include "connection.hpp"
#include "tollgate/output/output.hpp"
#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/probe.hpp"
#include "tollgate/server/process_state.hpp"
#include "tollgate/server/refusal.hpp"
#include "tollgate/server/request_handler.hpp"
#include "tollgate/spool/driver.hpp"

namespace tg::server {

class front_door final : public reactor::component {
 public:
  // `spool`: the shard's spool driver, or null (acknowledgements and
  // admission progress come from it when set). `output`: the shard's output,
  // or null (asked whether --ack upstream requests' events were refused).
  front_door(unsigned index, const options& opts, int listen_fd, reactor::uring& ring, ring::event_ring& events,
             probe& counters, process_state& process, std::unique_ptr<request_handler> handler,
             spool::driver* spool, const output::shard_output* output);
  ~front_door() override;
  front_door(const front_door&) = delete;
  front_door& operator=(const front_door&) = delete;

  // Sets up the receive buffers and arms the accept.
  void start();
  // Where outcome::pass requests go (the shard's pass-through); none by default.
  void pass_to(pass_target* target) noexcept { pass_ = target; }
  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) override;
  // Answers acknowledged waiters, retries parked requests, sends, re-arms.
  void poll(std::uint64_t now_ms) override;
  // Timeouts, admit deadlines, the stop flag.
  void tick(std::uint64_t now_ms) override;

  // Stopping, every connection closed and the accept cancelled.
  bool drained() const noexcept { return draining_ && open_ == 0 && !accepting_; }
  std::uint64_t drain_deadline() const noexcept { return drain_deadline_; }
  // Shutdown, before the ring goes: closes the listener, unregisters the buffers.
  void close();

 private:
  enum class op : std::uint8_t { accept = 1, recv, send, cancel };
  enum deadline_kind : int { dl_none = 0, dl_header, dl_body, dl_idle, dl_linger, dl_handshake };

  std::uint64_t tag(op o, std::uint32_t slot, std::uint32_t gen) const noexcept {
    return reactor::encode(id(), o, slot, gen);
  }
  void arm_accept();
  void arm_recv(connection& c, std::uint32_t slot);
  void cancel_recv(connection& c, std::uint32_t slot);
  void on_accept(const io_uring_cqe& cqe);
  void on_accept_error(int err);
  void shed_backlog();
  void log_accept_errors();
  void on_recv(const io_uring_cqe& cqe, std::uint32_t slot);
  void on_send(const io_uring_cqe& cqe, std::uint32_t slot);
  void begin_drain();
  void check_acks();
  void retry_parked();
  bool worth_retry(const connection& c) const;
  std::uint64_t progress() const;
  bool ack_reached(const connection& c) const;
  void note_ring_refusals(connection& c);
  // Where received bytes lie, which decides whether a body may be used there.
  enum class bytes_from : std::uint8_t {
    // The connection's own copy (the stash, the TLS plaintext buffer): the
    // parser copies what it keeps of them.
    copy,
    // A provided receive buffer, lent by the kernel for this one completion
    // (recv_loan): a body that arrives whole in it is validated and stamped
    // from where it lies, and must be done with, or copied, before the loan ends.
    recv_loan,
  };
  void receive(connection& c, std::uint32_t slot, const char* data, std::size_t len, bytes_from from);
  std::size_t parse(connection& c, std::uint32_t slot, const char* data, std::size_t len, bytes_from from);
  void end_recv_loan(connection& c, std::uint16_t bid);
  void drain_stash(connection& c, std::uint32_t slot);
  void finish_request(connection& c, std::uint32_t slot);
  void refuse(connection& c, std::uint32_t slot, refusal r);
  void pull_replies();
  std::string_view peer_of(connection& c);
  void answer_waiter(connection& c, std::uint32_t slot, endpoint ep, int status);
  void refuse_waiter(connection& c, std::uint32_t slot, endpoint ep, refusal r, std::string_view detail = {});
  void mark_dirty(std::uint32_t slot) {
    account(*conns_[slot]);
    dirty_.push_back(slot);
  }
  // Brings the shard's total of buffered bytes up to date with `c`'s.
  void account(connection& c) noexcept {
    const std::size_t u = c.buffered();
    output_total_ = output_total_ - c.accounted + u;
    c.accounted = u;
  }
  bool output_blocked(const connection& c) const noexcept;
  void overflow(connection& c, std::uint32_t slot);
  void flush(std::uint32_t slot);
  void update_reading(connection& c, std::uint32_t slot);
  void start_linger(connection& c);
  void close_conn(connection& c, std::uint32_t slot);
  void maybe_release(connection& c, std::uint32_t slot);
  void set_deadline(connection& c, int kind, unsigned ms);
  void slim_down(connection& c);
  void release_cold_slots();
  bool wants_input(const connection& c) const;
  void give_back_buffer(const io_uring_cqe& cqe);
  // TLS on the listener (front_door_tls.cpp): a new connection's session,
  // ciphertext in (plaintext to receive()), and the connection's pending
  // output sealed into ciphertext before it is sent.
  void tls_accept(connection& c, std::uint32_t slot);
  void tls_receive(connection& c, std::uint32_t slot, const char* data, std::size_t len);
  void tls_seal(connection& c, std::uint32_t slot);
  void tls_handshake_done(connection& c);
  // CORS headers of an awaited answer (the gatekeeper decided them).
  void add_ack_headers(connection& c, std::size_t at);

  unsigned index_;
  const options& opts_;
  int listen_fd_;
  reactor::uring& ring_;
  ring::event_ring& events_;
  probe& counters_;
  process_state& process_;
  std::unique_ptr<request_handler> handle_;
  spool::driver* spool_;
  const output::shard_output* output_;
  pass_target* pass_ = nullptr;

  std::unique_ptr<reactor::buffer_ring> buffers_;
  std::unique_ptr<tls_listener> tls_;  // --tls-cert; null: plaintext
  std::vector<std::unique_ptr<connection>> conns_;  // slot = index; null: a free slot whose object went
  std::vector<std::uint32_t> slot_gens_;     // a slot's generation while its object is gone
  bool cold_slots_ = false;                  // free slots past the warm ones may still hold objects
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> dirty_;         // slots to flush at the end of the iteration
  std::vector<std::uint32_t> ack_waiters_;   // slots awaiting an acknowledgement
  std::vector<std::uint32_t> parked_slots_;  // slots whose complete request waits (ring space, a delay)
  std::vector<std::uint32_t> reply_slots_;   // slots whose answer the pass-through writes
  std::uint64_t parked_tried_at_ = 0;        // progress() when parked requests were last retried
  std::size_t open_ = 0;
  std::size_t output_total_ = 0;             // buffered() over every connection
  bool accepting_ = false;
  accept_backoff accept_backoff_{{}};
  std::unique_ptr<backlog_shedder> shedder_;  // accepts and closes the backlog when out of descriptors
  bool draining_ = false;
  std::uint64_t drain_deadline_ = 0;
  std::uint64_t now_ = 0;
};

}  // namespace tg::server
