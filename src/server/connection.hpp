// SPDX-License-Identifier: Apache-2.0
// One client connection: its parser, its buffered input and output, and where
// it stands. Lives in its shard's connection table; touched only by that shard.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tollgate/http/request_parser.hpp"
#include "tollgate/server/request_handler.hpp"
#include "tls_listener.hpp"

namespace tg::server {

struct connection {
  explicit connection(const http::parser_limits& limits) : parser(limits) {}

  // Members are grouped by size (the flags together at the end): the shard
  // keeps one of these per open connection, idle ones included.
  int fd = -1;
  std::uint32_t gen = 0;  // bumped every time the slot is freed

  http::request_parser parser;

  // Received bytes the parser has not taken yet (it stopped on a parked request,
  // a full output, or a final response). Usually empty: input is fed straight
  // from the receive buffer.
  std::string stash;
  std::size_t stash_off = 0;

  // Responses not yet handed to the kernel, and the buffer of the send in
  // flight (never modified while the kernel reads it).
  std::string out_pending;
  std::string out_sending;
  std::size_t sent = 0;

  std::size_t accounted = 0;    // buffered() as last counted in the shard's total

  std::uint64_t parked_since = 0;
  std::uint64_t parked_since_ns = 0;  // precise, for handlers that time a delay (tollgate-sink's latency)
  std::size_t park_bytes = 0;   // ring space the parked request needs (0: unknown)
  std::unique_ptr<parked_state> kept;  // the handler's state of the parked request
  std::uint64_t ack_position = 0;
  std::uint64_t ack_ring_begin = 0;  // the request's ring range (end 0: not in the ring)
  std::uint64_t ack_first_seq = 0;   // with a spool: its first sequence number (the last is ack_position)
  std::uint64_t ack_ring_end = 0;
  std::unique_ptr<std::string> ack_refused_detail;  // rare: held apart, not in every connection
  std::uint64_t ack_since = 0;
  std::unique_ptr<deferred_reply> reply;  // outcome::pass: the answer the pass-through writes
  std::string peer;             // the client's address, looked up on the first passed-through request

  std::unique_ptr<tls_conn> tls;  // TLS on the listener; null: plaintext (front_door_tls.cpp)
  std::string_view ack_cors;      // Access-Control-Allow-Origin of the awaited answer (gatekeeper-owned)

  std::uint64_t deadline_ms = 0;  // the timeout that applies now (0: none)
  int deadline_kind = 0;          // which one (see front_door.cpp)
  int ack_status = 0;
  std::uint16_t peer_client = client_registry::none;  // the client certificate's CN, as a client slot
  ack_wait ack_for = ack_wait::ring_released;
  http::connection ack_conn = http::connection::keep_alive;  // Connection header of the awaited answer

  bool in_use = false;
  bool output_paused = false;   // not read because of unsent output (counted once per pause)
  bool overflowed = false;      // sent more than max_stash_bytes ahead: answered what it is owed, then closed
  bool heard = false;           // bytes arrived since the last tick (else its idle buffers may go)
  bool slim = true;             // holds no per-request buffers (trimmed while idle, or fresh)

  bool recv_armed = false;      // a multishot recv is outstanding
  bool recv_cancelling = false; // we asked the kernel to cancel it
  bool send_inflight = false;

  bool parked = false;          // a complete request waits (ring space, an injected delay)
  bool parked_listed = false;   // the slot is in the shard's parked list (kept across slot reuse)
  bool awaiting_ack = false;    // --ack upstream / durable: admitted, answer once acknowledged
  bool ack_refused = false;     // the output refused some of them: 502, not the status below
  bool reply_listed = false;    // the slot is in the shard's reply list (kept across slot reuse)
  bool head_done = false;       // current request's head seen
  bool close_after_send = false;  // a final response is queued: no more requests
  bool peer_closed = false;     // EOF from the client
  bool lingering = false;       // write side shut down; discarding input until EOF or deadline
  bool closing = false;         // waiting for outstanding operations before close(2)

  bool has_stash() const { return stash_off < stash.size(); }
  // Response bytes not yet handed to the kernel or not yet sent by it.
  std::size_t unsent() const { return out_pending.size() + (out_sending.size() - sent); }
  // What the shard holds for this client: unsent responses and held input.
  std::size_t buffered() const { return unsent() + (stash.size() - stash_off); }
};

}  // namespace tg::server
