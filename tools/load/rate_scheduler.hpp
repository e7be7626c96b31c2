// SPDX-License-Identifier: Apache-2.0
// Open-loop arrival times. R requests per second are spread evenly over C
// connections: connection i's k-th request is intended for
// start + (i + k*C) / R, so each connection sends every C/R seconds and the
// merged stream has one request every 1/R seconds. Latency is measured from
// these times, never from when a late connection actually got to send.
#pragma once

#include <cstdint>

namespace tg::load {

class rate_scheduler {
 public:
  // rate > 0 requests/s in total; connections >= 1; start in ns (any clock).
  rate_scheduler(double rate, std::uint32_t connections, std::uint64_t start_ns) noexcept;

  // Intended send time (ns) of request number k (0-based) on connection conn.
  std::uint64_t intended(std::uint32_t conn, std::uint64_t k) const noexcept;

  // The request's position in the merged stream: conn + k * connections.
  // A run of N requests sends exactly those with sequence() < N.
  std::uint64_t sequence(std::uint32_t conn, std::uint64_t k) const noexcept {
    return conn + k * connections_;
  }

  // Requests intended before end_ns, in total over all connections.
  std::uint64_t due_before(std::uint64_t end_ns) const noexcept;

  double interval_ns() const noexcept { return interval_ns_; }
  std::uint64_t start_ns() const noexcept { return start_ns_; }

 private:
  double interval_ns_;  // 1e9 / rate: the gap between consecutive requests of the merged stream
  std::uint32_t connections_;
  std::uint64_t start_ns_;
};

}  // namespace tg::load
