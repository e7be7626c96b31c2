// SPDX-License-Identifier: Apache-2.0
// What a shard asks of the application behind it: one complete request in,
// response bytes (or a decision to wait) out. tollgate's ingest handler and
// tollgate-sink's handler both sit behind this, on the same shard machinery.
// One handler per shard, called only on that shard's thread; never blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response.hpp"

namespace tg::server {

enum class outcome : std::uint8_t {
  answered,    // a response was appended to `out`
  park,        // nothing appended: ask again on a later tick (a full ring, an injected delay)
  await_ack,   // admitted; answer ctx.ack_status once ctx.wait reaches ctx.ack_position
  drop,        // close the connection without answering (fault injection)
  pass,        // nothing appended: the shard's pass-through answers later (only when ctx.can_pass)
};

// An answer another component of the shard writes later (outcome::pass). The
// front door pulls its bytes while the connection's output is under its
// bound (so a slow client holds back the writer, not our memory) and reads
// no further request on the connection until it is done. Destroying it (the
// connection went away) tells the writer to stop.
class deferred_reply {
 public:
  enum class state : std::uint8_t {
    pending,     // more to come
    done,        // the whole answer is in `out`
    done_close,  // the same, and the connection closes after it
    aborted,     // the answer cannot be finished (the upstream failed mid-body): close now
  };
  virtual ~deferred_reply() = default;
  // Appends at most `room` bytes of the answer to `out`.
  virtual state pull(std::string& out, std::size_t room) = 0;
};

// Who takes outcome::pass requests: the shard's pass-through.
class pass_target {
 public:
  virtual ~pass_target() = default;
  // `conn`: the Connection header the answer must carry; `peer`: the
  // client's address ("127.0.0.1", "::1"). The request's views are valid
  // during the call only.
  virtual std::unique_ptr<deferred_reply> take(const http::request& req, http::connection conn,
                                               std::string_view peer) = 0;
};

// What an admitted request's answer waits for (outcome::await_ack).
enum class ack_wait : std::uint8_t {
  ring_released,    // --ack upstream without a spool: the ring freed every event up to ack_position
  spool_synced,     // --ack durable: the spool's fdatasync covered sequence number ack_position
  spool_delivered,  // --ack upstream with a spool: the upstream accepted up to sequence number ack_position
};

// What a handler keeps of a parked request between tries (tollgate's ingest
// handler: the validated events), so a retry only retries admission. The
// connection owns it while the request is parked; handlers derive their own.
struct parked_state {
  virtual ~parked_state() = default;
};

struct request_context {
  std::uint64_t now_ms = 0;
  std::uint64_t first_try_ms = 0;  // when the request was first handled (== now_ms on the first try)
  // CLOCK_MONOTONIC nanoseconds when the request was first parked; 0 on the
  // first try. The coarse millisecond clock can lag by more than its
  // resolution on an idle (tickless) CPU, too much to time a delay with.
  std::uint64_t first_try_ns = 0;
  bool admit_expired = false;      // parked for --admit-timeout-ms already: answer now, do not park again
  bool can_pass = false;           // the shard has a pass-through: outcome::pass may be returned
  // Set by the handler with outcome::park when it waits for ring space: the
  // bytes the request needs, so the shard asks again only once they could fit.
  // 0: ask again every time.
  std::size_t park_bytes = 0;
  // In: what the handler kept when it parked this request last time (null on
  // the first try). Out, with outcome::park: what to keep for the next try.
  std::unique_ptr<parked_state> kept;
  // Set by the handler with outcome::await_ack.
  std::uint64_t ack_position = 0;
  // Where the request's events lie in the shard's ring, [ack_ring_begin,
  // ack_ring_end), when they were put there (end 0: they were not): the
  // front door asks the output whether any of them was refused upstream.
  std::uint64_t ack_ring_begin = 0;
  // With a spool (ack_wait::spool_delivered): the request's first sequence
  // number (its last is ack_position), to tell refused events from delivered.
  std::uint64_t ack_first_seq = 0;
  std::uint64_t ack_ring_end = 0;
  int ack_status = 0;
  ack_wait wait = ack_wait::ring_released;
  // In: the client slot (client_registry) of the connection's client
  // certificate, or client_registry::none (0xffff).
  std::uint16_t peer_client = 0xffff;
  // Out, with outcome::await_ack: the Access-Control-Allow-Origin value the
  // awaited answer carries (empty: none). Points into the handler, which
  // outlives every connection of its shard.
  std::string_view cors_origin;
};

class request_handler {
 public:
  virtual ~request_handler() = default;
  virtual outcome handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) = 0;
};

}  // namespace tg::server
