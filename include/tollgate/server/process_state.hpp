// SPDX-License-Identifier: Apache-2.0
// What shards may know of each other: read-only pointers set before they start
// (for /metrics and /readyz, which look at every shard) and the stop flag.
// Nothing here is written on the request path.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "tollgate/base/published.hpp"
#include "tollgate/output/output.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/clients.hpp"
#include "tollgate/server/probe.hpp"
#include "tollgate/server/proxy_probe.hpp"
#include "tollgate/spool/probe.hpp"

namespace tg::upstream {
class tls_context;
}
namespace tg::mapping {
class route_table;
}

namespace tg::server {

struct ingest_tokens;

struct process_state {
  std::atomic<bool> stopping{false};
  std::vector<probe*> probes;                     // index = shard
  std::vector<ring::event_ring*> rings;           // index = shard
  std::vector<const spool::probe*> spool_probes;  // index = shard; empty without --spool-dir
  std::vector<const proxy_probe*> proxy_probes;   // index = shard; empty without a pass-through
  const output::backend* output = nullptr;        // null: nobody consumes the rings (tollgate-sink)
  double start_time_seconds = 0;
  std::uint64_t spool_shard_max_bytes = 0;  // with a spool: each shard's share of --spool-max-bytes
  std::atomic<std::uint64_t> events_left{0};  // summed by shards that stop with undelivered events
  client_registry* clients = nullptr;  // names of the per-client counters (interned by any thread)
  // Replaced by the main thread on SIGHUP, read by the shards (published.hpp).
  const published<ingest_tokens>* tokens = nullptr;        // --ingest-tokens-file, or null
  const published<upstream::tls_context>* tls = nullptr;   // --tls-cert, or null (plaintext)
  const published<mapping::route_table>* routes = nullptr; // --mappings, or null
};

}  // namespace tg::server
