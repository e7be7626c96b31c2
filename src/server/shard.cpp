// SPDX-License-Identifier: Apache-2.0
// The shard's thread: builds its loop of components, runs it until the front
// door has drained (and the output delivered what it could), then shuts the
// parts down in the order the kernel needs. Components are polled in the
// order they are attached: the output first (it frees ring space), the spool
// next (it maps what was freed to delivered positions and refills the ring),
// the pass-through after them (it sends what waits for an upstream
// connection), the front door last (it answers waiters, retries parked
// requests and pulls the pass-through's answers with what the others just did).
#include "tollgate/server/shard.hpp"

#include <unistd.h>

#include "front_door.hpp"
#include "passthrough.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/reactor/loop.hpp"

namespace tg::server {

struct shard::impl {
  unsigned index;
  const options& opts;
  int listen_fd;
  ring::event_ring& ring;
  probe& counters;
  process_state& process;
  std::unique_ptr<request_handler> handler;
  output::backend* out;
  spool::driver* spool;
  pass_through_parts pass;
};

shard::shard(unsigned index, const options& opts, int listen_fd, ring::event_ring& ring, probe& counters,
             process_state& process, std::unique_ptr<request_handler> handler, output::backend* out,
             spool::driver* spool, pass_through_parts pass)
    : impl_(std::make_unique<impl>(
          impl{index, opts, listen_fd, ring, counters, process, std::move(handler), out, spool, pass})) {}

shard::~shard() {
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
}

void shard::run() {
  impl& s = *impl_;
  reactor::loop loop({s.opts.uring_entries}, s.opts.tick_ms);
  std::unique_ptr<output::shard_output> out = s.out ? s.out->make_shard(s.index, loop.ring(), s.ring) : nullptr;
  // Made before the front door, so it outlives the answers the door holds.
  std::unique_ptr<passthrough> pass;
  if (s.pass.upstream != nullptr && s.pass.counters != nullptr) {
    pass = std::make_unique<passthrough>(s.index, s.opts, *s.pass.upstream, loop.ring(), *s.pass.counters);
  }
  front_door door(s.index, s.opts, s.listen_fd, loop.ring(), s.ring, s.counters, s.process, std::move(s.handler),
                  s.spool, out.get());
  s.listen_fd = -1;  // the front door owns it now
  if (out) loop.attach(*out);
  if (s.spool != nullptr) {
    s.spool->use_ring(loop.ring());
    if (out) {
      s.spool->follow([o = out.get()] { return o->records_released(); });
      s.spool->follow_refusals([o = out.get()](std::uint64_t from, std::uint64_t to,
                                               const spool::driver::refused_run& f) { o->rejected_ordinals(from, to, f); });
    }
    loop.attach(*s.spool);
  }
  if (pass) {
    loop.attach(*pass);
    door.pass_to(pass.get());
  }
  loop.attach(door);
  log::info("shard started", {{"shard", s.index}, {"io_uring", loop.ring().mode()}});
  door.start();
  loop.start();
  for (;;) {
    loop.run_once();
    // Also wait for the cancelled accept to complete (drained() says so):
    // until then the kernel holds the listening socket, which stays in the
    // SO_REUSEPORT group and takes connections nobody will accept. The
    // output keeps delivering until the ring is empty or the drain deadline;
    // with a spool, what is not delivered by then stays in it for the next
    // start.
    const bool delivered = (!out || out->idle()) && (s.spool == nullptr || s.spool->caught_up());
    if (door.drained() && (delivered || loop.now_ms() >= door.drain_deadline()) &&
        (s.spool == nullptr || !s.spool->io_in_flight())) {
      break;
    }
  }

  std::uint64_t left = 0;
  std::uint64_t in_spool = 0;
  if (s.spool != nullptr) {
    // Undelivered events stay in the spool for the next start; only events
    // that never reached it (a disk that kept failing) are lost.
    left = s.spool->close();
    in_spool = s.spool->events_waiting();
  } else if (out) {
    left = out->events_left();
  }
  s.process.events_left.fetch_add(left);
  if (out) out->close();
  if (pass) pass->close();
  // The kernel must be done with every buffer before it is freed: the
  // receive buffers go first, then the ring (its exit cancels and reaps what
  // is still in flight), then the output's connections and their buffers.
  door.close();
  loop.close();
  out.reset();
  if (s.spool != nullptr) {
    log::info("shard stopped", {{"shard", s.index}, {"events_left", left}, {"events_left_in_spool", in_spool}});
  } else {
    log::info("shard stopped", {{"shard", s.index}, {"events_left", left}});
  }
}

}  // namespace tg::server
