// SPDX-License-Identifier: Apache-2.0
// One load connection, owned by its thread: socket state, the output buffers
// (a send in flight reads out_sending while new requests go to out_pending),
// the response parser, and the FIFO of requests awaiting their responses,
// whose intended send times give each response its latency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tollgate/http/response_parser.hpp"

namespace tg::load {

struct inflight {
  std::uint64_t intended_ns = 0;  // latency counts from here (open loop: the schedule; closed: the send)
  std::uint64_t sent_ns = 0;      // the request timeout counts from here
  std::uint32_t events = 0;
};

// Fixed capacity (the pipeline depth): allocated once per connection.
class inflight_fifo {
 public:
  explicit inflight_fifo(std::uint32_t capacity) : slots_(capacity) {}
  bool full() const noexcept { return count_ == slots_.size(); }
  bool empty() const noexcept { return count_ == 0; }
  std::uint32_t size() const noexcept { return count_; }
  const inflight& front() const noexcept { return slots_[head_]; }
  void push(const inflight& r) noexcept {
    slots_[(head_ + count_) % slots_.size()] = r;
    ++count_;
  }
  inflight pop() noexcept {
    inflight r = slots_[head_];
    head_ = (head_ + 1) % static_cast<std::uint32_t>(slots_.size());
    --count_;
    return r;
  }
  void clear() noexcept { head_ = count_ = 0; }

 private:
  std::vector<inflight> slots_;
  std::uint32_t head_ = 0;
  std::uint32_t count_ = 0;
};

enum class conn_state : std::uint8_t {
  idle,        // no socket; in the reconnect queue
  connecting,  // connect submitted
  open,
  closing,     // socket shut down; waiting for its last completions before reuse
};

struct connection {
  connection(std::uint32_t global_index, std::uint32_t pipeline, const http::response_limits& limits)
      : global(global_index), fifo(pipeline), parser(limits) {}

  std::uint32_t global;           // index over all threads: fixes its place in the rate schedule
  int fd = -1;
  std::uint32_t gen = 0;          // bumped at each close: completions of the previous socket are stale
  conn_state state = conn_state::idle;
  unsigned pending_ops = 0;       // submitted connect/send/recv whose last completion has not come
  bool recv_armed = false;
  bool send_inflight = false;
  bool dirty = false;             // in the thread's flush list
  bool in_schedule = false;       // open loop: its next request is in the thread's timer heap
  bool exhausted = false;         // no request left for it in this run
  std::uint64_t next_k = 0;       // its next request number
  std::uint64_t retry_at = 0;     // earliest reconnect
  std::string out_pending;
  std::string out_sending;
  std::size_t sent = 0;           // bytes of out_sending the kernel took
  inflight_fifo fifo;
  http::response_parser parser;
};

}  // namespace tg::load
