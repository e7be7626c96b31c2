// SPDX-License-Identifier: Apache-2.0
// The spool's metrics, one probe per shard (all zero without --spool-dir).
// Written only by its shard's thread (start-up recovery: the main thread,
// before the shard starts), summed on scrape by render_metrics().
#pragma once

#include <span>
#include <string>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/histogram.hpp"

namespace tg::spool {

struct probe {
  metrics::gauge bytes;     // segment bytes on disk (this shard's directories)
  metrics::gauge segments;  // segment files
  metrics::gauge failing;   // 1 while writes or syncs fail (new requests get 503)
  metrics::counter syncs;
  metrics::histogram<13> sync_seconds{{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  metrics::histogram<11> events_per_sync{{1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000, 100000}};
  metrics::counter replayed_events;        // read back at start-up: written by an earlier run, not yet delivered
  metrics::counter disk_read_events;       // read back from disk because memory did not hold them (replay included)
  metrics::counter quarantined_segments;   // segments with damaged bytes moved to a .corrupt file
  metrics::counter quarantined_events;     // sequence numbers missing between the records kept around damage
  metrics::counter quarantined_bytes;
  metrics::counter torn_bytes;             // cut from torn tails at start-up
  metrics::counter write_errors;           // failed writes and syncs
  metrics::counter deleted_segments;       // deleted once every record in them was delivered
};

// Appends the tollgate_spool_* families, summed over the shards' probes
// (index = shard for the per-shard gauges).
void render_metrics(std::span<const probe* const> shards, std::string& out);

}  // namespace tg::spool
