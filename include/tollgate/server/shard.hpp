// SPDX-License-Identifier: Apache-2.0
// A shard: one pinned thread running one loop of components (reactor/loop.hpp)
// over one io_uring: the front door (listener, connections, HTTP, handler),
// the output's shard side, and the spool driver. Shards share nothing on the
// request path; they only read the stop flag and, for /metrics, each other's
// probes.
#pragma once

#include <memory>

#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/output/output.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/probe.hpp"
#include "tollgate/server/process_state.hpp"
#include "tollgate/server/proxy_probe.hpp"
#include "tollgate/server/request_handler.hpp"
#include "tollgate/spool/driver.hpp"

namespace tg::server {

// The pass-through's parts: the upstream API and the shard's probe (null: none).
struct pass_through_parts {
  const upstream::shared* upstream = nullptr;
  proxy_probe* counters = nullptr;
};

class shard {
 public:
  // `out`: the output; the shard runs its shard side when it has one
  // (otherwise the output's own thread consumes the ring, or nobody does).
  // `spool`: when not null, the shard drives its writes and syncs and answers
  // --ack durable requests once synced. `pass`: with an upstream, the shard
  // runs a pass-through for the rest of OpenMeter's API.
  shard(unsigned index, const options& opts, int listen_fd, ring::event_ring& ring, probe& counters,
        process_state& process, std::unique_ptr<request_handler> handler, output::backend* out,
        spool::driver* spool = nullptr, pass_through_parts pass = {});
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  // Runs the event loop on the calling thread until the process stops and this
  // shard's connections are drained (or drain_timeout_ms passed). Throws
  // reactor::unsupported when io_uring cannot be set up.
  void run();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::server
