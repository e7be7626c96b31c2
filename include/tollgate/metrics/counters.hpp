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

namespace tg::metrics {

// Single-writer counter: the owner increments, anyone may read.
class counter {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Single-writer gauge.
class gauge {
 public:
  void set(std::int64_t v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t d) noexcept { v_.store(v_.load(std::memory_order_relaxed) + d, std::memory_order_relaxed); }
  std::int64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

enum class endpoint : std::uint8_t { ingest_v1, ingest_v3, healthz, readyz, metrics, other };
inline constexpr std::size_t endpoint_count = 6;
const char* endpoint_label(endpoint e) noexcept;

// Every status tollgate sends, in a fixed order (index = position).
inline constexpr std::array<int, 16> statuses = {200, 202, 204, 400, 404, 405, 408, 411, 413, 429, 431, 500, 502, 503, 504, 505};
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
};
inline constexpr std::size_t reject_reason_count = 8;
const char* reject_reason_label(reject_reason r) noexcept;

// HTTP-level failures, before a request could be routed.
enum class http_error : std::uint8_t { malformed, head_too_large, body_too_large, version_unsupported, header_timeout };
inline constexpr std::size_t http_error_count = 5;
const char* http_error_label(http_error e) noexcept;

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
