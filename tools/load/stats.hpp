// SPDX-License-Identifier: Apache-2.0
// What one load thread counts. Each thread owns its stats outright (no atomics
// on the hot path); main() merges them for the progress line (from published
// snapshots) and for the final report.
#pragma once

#include <array>
#include <cstdint>

#include "histogram.hpp"

namespace tg::load {

// HTTP status codes 100..599 are counted one by one; anything else as other.
inline constexpr int max_status = 600;

struct error_counts {
  std::uint64_t connect = 0;  // connect refused / failed / timed out
  std::uint64_t read = 0;     // connection reset or closed with requests in flight
  std::uint64_t write = 0;    // send failed
  std::uint64_t timeout = 0;  // requests with no response within --timeout (each counted)
  std::uint64_t parse = 0;    // a response the parser rejected
  std::uint64_t status = 0;   // responses other than 2xx

  std::uint64_t total() const noexcept { return connect + read + write + timeout + parse + status; }
};

struct stats {
  std::uint64_t sent = 0;             // requests written to a socket (queued for a send)
  std::uint64_t responses = 0;        // complete responses, any status
  std::uint64_t events_sent = 0;      // events in sent requests
  std::uint64_t events_answered = 0;  // events in requests that got a response
  std::uint64_t accepted_events = 0;  // events in requests answered 2xx
  std::uint64_t unsent = 0;           // open loop: intended in the run but never sent (the client fell behind)
  std::uint64_t connects = 0;         // successful connects
  std::array<std::uint64_t, max_status> status{};  // by code; [0] holds codes outside 100..599
  error_counts errors;
  histogram latency;                  // ns, per completed response (any status)

  void merge(const stats& o) noexcept {
    sent += o.sent;
    responses += o.responses;
    events_sent += o.events_sent;
    events_answered += o.events_answered;
    accepted_events += o.accepted_events;
    unsent += o.unsent;
    connects += o.connects;
    for (int i = 0; i < max_status; ++i) status[i] += o.status[i];
    errors.connect += o.errors.connect;
    errors.read += o.errors.read;
    errors.write += o.errors.write;
    errors.timeout += o.errors.timeout;
    errors.parse += o.errors.parse;
    errors.status += o.errors.status;
    latency.merge(o.latency);
  }
};

}  // namespace tg::load
