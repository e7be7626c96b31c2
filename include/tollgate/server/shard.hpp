// SPDX-License-Identifier: Apache-2.0
// A shard: one pinned thread, one io_uring, one listening socket (SO_REUSEPORT),
// its connections, its validator and its event ring. Shards share nothing on
// the request path; they only read the stop flag and, for /metrics, each
// other's counters.
#pragma once

#include <memory>

#include "tollgate/metrics/counters.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/process_state.hpp"
#include "tollgate/server/request_handler.hpp"

namespace tg::upstream {
struct shared;
}

namespace tg::server {

class spool_driver;

class shard {
 public:
  // `upstream`: when not null, this shard forwards its ring to the HTTP
  // upstream itself; otherwise another thread consumes the ring (or nobody).
  // `spool`: when not null (only with an upstream), the shard drives its
  // writes and syncs and answers --ack durable requests once synced.
  shard(unsigned index, const options& opts, int listen_fd, ring::event_ring& ring, metrics::shard_metrics& counters,
        process_state& process, std::unique_ptr<request_handler> handler, const upstream::shared* upstream,
        spool_driver* spool = nullptr);
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
