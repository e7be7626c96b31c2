// SPDX-License-Identifier: Apache-2.0
// The tollgate_spool_* families. Gauges are per shard (one full or failing
// disk path is what an operator needs to see); counters are summed.
#include "tollgate/metrics/exposition.hpp"
#include "tollgate/spool/probe.hpp"

namespace tg::spool {

void render_metrics(std::span<const probe* const> shards, std::string& out) {
  using metrics::counter;
  using metrics::gauge;
  struct gauge_row {
    const char* name;
    const char* help;
    const gauge probe::*member;
  };
  static const gauge_row gauges[] = {
      {"tollgate_spool_bytes", "Bytes of spool segments on disk, per shard.", &probe::bytes},
      {"tollgate_spool_segments", "Spool segment files, per shard.", &probe::segments},
      {"tollgate_spool_failing", "1 while a shard's spool writes or syncs fail (new requests get 503).",
       &probe::failing},
  };
  for (const gauge_row& g : gauges) {
    metrics::head(out, g.name, "gauge", g.help);
    for (std::size_t i = 0; i < shards.size(); ++i) {
      const std::int64_t n = (shards[i]->*g.member).get();
      metrics::sample(out, g.name, metrics::shard_label(i), static_cast<std::uint64_t>(n < 0 ? 0 : n));
    }
  }
  struct counter_row {
    const char* name;
    const char* help;
    const counter probe::*member;
  };
  static const counter_row counters[] = {
      {"tollgate_spool_syncs_total", "Group commits (fdatasync of the spool) completed.", &probe::syncs},
      {"tollgate_spool_replayed_events_total",
       "Events read back at start-up: spooled by an earlier run and not yet delivered.", &probe::replayed_events},
      {"tollgate_spool_disk_reads_events_total",
       "Events read back from the spool because memory did not hold them (replay included).",
       &probe::disk_read_events},
      {"tollgate_spool_quarantined_segments_total",
       "Segments found damaged (at start-up, moved to .corrupt files; reading back, the rest skipped) or deleted from outside.",
       &probe::quarantined_segments},
      {"tollgate_spool_quarantined_events_total",
       "Events lost to damage found at start-up (sequence numbers missing between the records kept) or in a deleted segment.",
       &probe::quarantined_events},
      {"tollgate_spool_quarantined_bytes_total", "Bytes moved to .corrupt files at start-up.",
       &probe::quarantined_bytes},
      {"tollgate_spool_torn_bytes_total", "Bytes of torn tails (cut by a crash mid-write) truncated at start-up.",
       &probe::torn_bytes},
      {"tollgate_spool_write_errors_total", "Failed spool writes and syncs (disk full, I/O errors).",
       &probe::write_errors},
      {"tollgate_spool_deleted_segments_total", "Segments deleted once every event in them was delivered.",
       &probe::deleted_segments},
  };
  for (const counter_row& c : counters) {
    metrics::head(out, c.name, "counter", c.help);
    metrics::sample(out, c.name, {}, metrics::sum(shards, [&](const probe& p) { return (p.*c.member).get(); }));
  }
  metrics::head(out, "tollgate_spool_sync_seconds", "histogram", "Duration of one group commit (fdatasync) of the spool.");
  metrics::histogram_samples(out, "tollgate_spool_sync_seconds", shards,
                             [](const probe& p) -> const auto& { return p.sync_seconds; });
  metrics::head(out, "tollgate_spool_events_per_sync", "histogram", "Events made durable by one group commit.");
  metrics::histogram_samples(out, "tollgate_spool_events_per_sync", shards,
                             [](const probe& p) -> const auto& { return p.events_per_sync; });
}

}  // namespace tg::spool
