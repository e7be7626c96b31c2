// SPDX-License-Identifier: Apache-2.0
// Per-shard counters. Each shard_metrics is written only by its shard's thread
// (a relaxed load + store, no locked instruction) and read by whichever thread
// renders /metrics, which sums the shards at scrape time. Nothing is shared on
// the request path.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/histogram.hpp"

namespace tg::metrics {

enum class endpoint : std::uint8_t { ingest_v1, ingest_v3, healthz, readyz, metrics, other };
inline constexpr std::size_t endpoint_count = 6;
const char* endpoint_label(endpoint e) noexcept;

// Every status tollgate sends, in a fixed order (index = position).
// 401/403 are never sent by tollgate but are what an upstream answers a bad token.
inline constexpr std::array<int, 18> statuses = {200, 202, 204, 400, 401, 403, 404, 405, 408, 411, 413, 429, 431, 500, 502, 503, 504, 505};
// Index of a status in `statuses`; unknown codes count as 500's slot.
std::size_t status_index(int status) noexcept;

// Why an ingest request was refused (whole).
enum class reject_reason : std::uint8_t {
  unsupported_media_type,
  empty_body,
  malformed_json,
  wrong_shape,
  invalid_event,
  too_many_events,
  body_too_large,
  buffer_full,
  spool_full,   // the spool is at --spool-max-bytes
  spool_error,  // the spool cannot write (disk full, I/O error)
};
inline constexpr std::size_t reject_reason_count = 10;
const char* reject_reason_label(reject_reason r) noexcept;

// HTTP-level failures, before a request could be routed.
enum class http_error : std::uint8_t { malformed, head_too_large, body_too_large, version_unsupported, header_timeout };
inline constexpr std::size_t http_error_count = 5;
const char* http_error_label(http_error e) noexcept;

// Where a batch sent upstream ended, for tollgate_upstream_requests_total.
// Responses are counted by status (index in `statuses`, last slot: any other
// code); failures without a response have their own slots.
inline constexpr std::size_t upstream_other_status = statuses.size();
inline constexpr std::size_t upstream_network_error = statuses.size() + 1;
inline constexpr std::size_t upstream_timeout = statuses.size() + 2;
inline constexpr std::size_t upstream_outcome_count = statuses.size() + 3;

struct upstream_metrics {
  counter outcomes[upstream_outcome_count];
  counter unknown_status[6];  // by class (index = status / 100) for codes outside `statuses`
  counter retries;               // batches scheduled again after a failure
  counter splits;                // 400 answers that split a batch in halves
  counter events_delivered;      // events the upstream accepted (2xx)
  counter events_dead_lettered;  // events written to the dead-letter file
  counter connects;              // connections opened to the upstream
  counter connect_failures;
  histogram<9> batch_events{{1, 10, 50, 100, 200, 500, 1000, 5000, 10000}};
  histogram<13> latency_seconds{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  gauge connections_open;
  gauge backing_off;  // 1 while the shard waits before trying the upstream again
};

// The shard's spool (--spool-dir); all zero without one.
struct spool_metrics {
  gauge bytes;     // segment bytes on disk (this shard's directories)
  gauge segments;  // segment files
  gauge failing;   // 1 while writes or syncs fail (new requests get 503)
  counter syncs;
  histogram<13> sync_seconds{{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}};
  histogram<11> events_per_sync{{1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000, 100000}};
  counter replayed_events;        // read back at start-up: written by an earlier run, not yet delivered
  counter disk_read_events;       // read back from disk because memory did not hold them (replay included)
  counter quarantined_segments;   // segments with damaged bytes moved to a .corrupt file
  counter quarantined_bytes;
  counter quarantined_events;     // sequence numbers missing between the records kept around damage
  counter torn_bytes;             // cut from torn tails at start-up
  counter write_errors;           // failed writes and syncs
  counter deleted_segments;       // deleted once every record in them was delivered
};

struct shard_metrics {
  counter requests[endpoint_count][statuses.size()];
  counter http_errors[http_error_count];
  counter ingest_rejected[reject_reason_count];
  counter events_accepted;
  counter event_bytes_accepted;  // bytes put in the ring (stamped events)
  counter bytes_received;
  counter bytes_sent;
  counter connections_accepted;
  counter connections_refused;  // over --max-connections
  counter idle_timeouts;
  counter backpressure_pauses;  // times a connection stopped being read for a full ring
  gauge connections_open;
  counter ack_timeouts;  // --ack upstream requests answered 504

  upstream_metrics upstream;
  spool_metrics spool;

  void count_request(endpoint e, int status) noexcept {
    requests[static_cast<std::size_t>(e)][status_index(status)].add();
  }
};

// Written by the output thread.
struct output_metrics {
  counter events_written;
  counter bytes_written;
  counter write_errors;
};

}  // namespace tg::metrics
