// SPDX-License-Identifier: Apache-2.0
// The one seam between the shards and where accepted events go. An output is
// two objects:
//  - a `backend`, built once at start-up on the main thread (it may block and
//    throw there: resolve a host, open a file, load a trust store), shared
//    read-only by the shards, and owning the per-shard metric probes;
//  - per shard, optionally, a `shard_output`: a component of the shard's loop
//    that takes records from the shard's event ring, sends them on and frees
//    ring space only for records it delivered (or dead-lettered).
// An output that drains every ring from a thread of its own (jsonl) makes no
// shard outputs and runs that thread between start() and stop().
// Adding an output is a folder under src/output/ with a backend; nothing in
// the shard changes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/ring/event_ring.hpp"

namespace tg::output {

// What the destination answered for ring records it refused, which the
// output set aside (dead-lettered) instead of delivering.
struct rejection {
  int status = 0;            // the destination's status; 0: not known (the output kept no detail)
  std::string_view detail;   // its problem detail; valid until the output's next poll
  std::uint64_t events = 0;  // records of the asked range refused
};

// One shard's consumer of its event ring. Lives on that shard's thread.
class shard_output : public reactor::component {
 public:
  // Whether records in the ring range [begin, end) were refused by the
  // destination rather than delivered. Asked once read_begin() passed `end`,
  // in the same loop iteration (the front door polls after the output): what
  // was released before the output's previous poll may be forgotten.
  // Bounded: when more refusals came at once than it keeps, a range that
  // touches the lost ones is answered as refused, with status 0.
  virtual std::optional<rejection> rejected(std::uint64_t begin, std::uint64_t end) const {
    (void)begin;
    (void)end;
    return std::nullopt;
  }
  // The same refusals by record ordinal, for the spool, whose ledger counts
  // records in the order the output releases them (records_released() is
  // the count so far; the first record released is ordinal 0): calls
  // f(first, end, status, detail) for every refused run of ordinals
  // [first, end) that overlaps [from, to). Asked in the iteration that
  // released them, like rejected(); status 0 when the answer was not kept.
  using refused_run = std::function<void(std::uint64_t first, std::uint64_t end, int status, std::string_view detail)>;
  virtual void rejected_ordinals(std::uint64_t from, std::uint64_t to, const refused_run& f) const {
    (void)from;
    (void)to;
    (void)f;
  }
  // Ring records freed so far (delivered or dead-lettered), counted from the
  // start: the spool maps them back to its sequence numbers, in ring order.
  virtual std::uint64_t records_released() const = 0;
  // Nothing waiting in the ring and nothing in flight.
  virtual bool idle() const = 0;
  // Events not yet delivered or dead-lettered (walks the ring; shutdown only).
  virtual std::uint64_t events_left() const = 0;
  // Shutdown: stops sending and closes connections. The loop's ring is torn
  // down after this and before the object is destroyed.
  virtual void close() = 0;
};

class backend {
 public:
  virtual ~backend() = default;

  // For the start-up log line: "stdout", "file:/x", "http://host:port".
  virtual std::string describe() const = 0;
  // Called once, before any shard starts: how many shards there will be (the
  // backend makes one probe per shard).
  virtual void prepare(unsigned shards) = 0;
  // The shard's consumer, made on the shard's thread once its loop exists;
  // null when this output drains the rings on a thread of its own.
  virtual std::unique_ptr<shard_output> make_shard(unsigned shard, reactor::uring& ring, ring::event_ring& events) = 0;
  // Whether released records mean "the destination has them", which the
  // spool's delivered positions and --ack upstream rely on.
  virtual bool confirms_delivery() const = 0;

  // Process-level threads, if any: after prepare(), before the shards start.
  virtual void start(std::span<ring::event_ring* const> rings) { (void)rings; }
  // After every shard stopped: drain until the rings are empty or deadline_ms
  // (monotonic) passes. Returns the events left unwritten (0 for per-shard
  // outputs: their shards report what they left).
  virtual std::uint64_t stop(std::uint64_t deadline_ms) {
    (void)deadline_ms;
    return 0;
  }

  // Appends this output's metric families (Prometheus text), summed over the
  // shards' probes. Called from whichever shard serves /metrics.
  virtual void render_metrics(std::string& out) const = 0;
  // Whether the destination can take events now (for /readyz); an output
  // that cannot tell says yes.
  virtual bool ready() const { return true; }
  // Events of shard `shard` that are done (delivered or dead-lettered), for
  // tollgate_events_waiting; empty when the output does not count per shard.
  virtual std::optional<std::uint64_t> events_done(unsigned shard) const {
    (void)shard;
    return std::nullopt;
  }

  // GET /status.json: this output's keys in shard `shard`'s object, each
  // preceded by a comma: "events_out", "dead_lettered" and "upstream" (the
  // shard's connection to its destination, or null).
  virtual void render_status(unsigned shard, std::uint64_t events_accepted, std::string& out) const {
    (void)shard;
    (void)events_accepted;
    out += ",\"events_out\":null,\"dead_lettered\":0,\"upstream\":null";
  }
  // The process-wide "output" value of /status.json (an output with a thread
  // of its own), null by default.
  virtual void render_status_output(std::string& out) const { out += "null"; }
};

}  // namespace tg::output
