// SPDX-License-Identifier: Apache-2.0
// The process: one listening socket per shard (SO_REUSEPORT on one address),
// one pinned thread per shard, the event rings, the spool drivers and the
// output. Owns the process-level lifecycle: start, wait for SIGTERM/SIGINT,
// drain, report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <functional>
#include <memory>

#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/output/output.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/probe.hpp"
#include "tollgate/server/process_state.hpp"
#include "tollgate/server/request_handler.hpp"
#include "tollgate/spool/driver.hpp"

namespace tg::server {

// What a shard's handler may use; all of it lives as long as the gateway.
struct shard_resources {
  unsigned index;
  const options& opts;
  ring::event_ring& ring;
  probe& counters;
  const process_state& process;
  spool::driver* spool = nullptr;  // the shard's spool (--spool-dir), or null
};
using handler_factory = std::function<std::unique_ptr<request_handler>(const shard_resources&)>;

// tollgate's own handler: ingest, health, readiness, metrics.
std::unique_ptr<request_handler> make_ingest_handler(const shard_resources& r);

struct run_report {
  std::uint64_t events_left = 0;  // accepted events not written / delivered by the drain deadline
};

class gateway {
 public:
  // Binds the listeners (throws on failure, e.g. address in use). `out`: where
  // accepted events go (it must outlive the gateway), or null when nobody
  // consumes the rings (tollgate-sink). With opts.spool_dir (an output that
  // confirms delivery only), recovers the spool first: every shard's
  // directories, blocking, before anything is served.
  gateway(const options& opts, output::backend* out, handler_factory make_handler = make_ingest_handler);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Port actually bound (useful with port 0).
  unsigned short port() const;
  unsigned shard_count() const;

  // What SIGHUP does (re-read configuration files), called on the main thread
  // while the shards run; each reload hook publishes what it read for the
  // shards to pick up, or keeps the old configuration and logs why. Set
  // before run().
  void on_reload(std::function<void()> hook);

  // Passes the rest of OpenMeter's API (every request under /api/ that is not
  // ingest) to `up` (the HTTP output's upstream; it must outlive the
  // gateway), unless opts.proxy is off. Without it those paths answer 404
  // saying there is no upstream API. Call before run().
  void pass_through_to(const upstream::shared& up);

  // Starts the shards and the output, blocks until SIGTERM or SIGINT (calling
  // the reload hook on each SIGHUP meanwhile), then drains. The signals must
  // be blocked in every thread before calling (main does this first thing).
  // Throws reactor::unsupported when io_uring is unusable here.
  run_report run();

 private:
  struct impl;
  impl* impl_;
};

// Blocks SIGTERM, SIGINT and SIGHUP for the calling thread (and so for every
// thread it starts afterwards: gateway::run() waits for them with sigwait) and
// ignores SIGPIPE. Call first thing in main, before any thread exists.
void block_stop_signals();

// CPUs in this process's affinity mask, in order.
std::vector<int> affinity_cpus();

}  // namespace tg::server
