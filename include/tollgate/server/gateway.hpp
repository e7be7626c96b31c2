// SPDX-License-Identifier: Apache-2.0
// The whole front door: one listening socket per shard (SO_REUSEPORT on one
// address), one pinned thread per shard, the event rings and the output. Owns
// the process-level lifecycle: start, wait for SIGTERM/SIGINT, drain, report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tollgate/output/jsonl_writer.hpp"
#include "tollgate/server/options.hpp"

namespace tg::server {

struct run_report {
  std::uint64_t events_left = 0;  // accepted events the output could not write before the drain deadline
};

class gateway {
 public:
  // Binds the listeners (throws on failure, e.g. address in use).
  gateway(const options& opts, const output::options& out);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Port actually bound (useful with port 0).
  unsigned short port() const;
  unsigned shard_count() const;

  // Starts the shards and the output, blocks until SIGTERM or SIGINT, then
  // drains. SIGTERM/SIGINT must be blocked in every thread before calling
  // (main does this first thing). Throws reactor::unsupported when io_uring is
  // unusable here.
  run_report run();

 private:
  struct impl;
  impl* impl_;
};

// CPUs in this process's affinity mask, in order.
std::vector<int> affinity_cpus();

}  // namespace tg::server
