// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's counters, shared by every shard of the process. Counters are
// relaxed atomics; the distinct-id set is ONE process-wide set behind a mutex
// (not per-shard sets merged later), because two shards may receive the same
// id and /stats must report the true distinct count at any moment. A test
// tool: correctness over speed (one lock per accepted request, not per event).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace tg::sink {

// The dedupe key, as OpenMeter's (without the namespace): source, US, id.
std::string id_key(std::string_view source, std::string_view id);

class stats {
 public:
  // Every POST /api/v1/events the sink decided on (after any added latency):
  // requests = accepted + rejected + unauthorized + status faults + dropped.
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> accepted_requests{0};
  std::atomic<std::uint64_t> rejected_requests{0};  // 400s, poison ones included
  std::atomic<std::uint64_t> unauthorized{0};       // 401s
  std::atomic<std::uint64_t> fault_status{0};
  std::atomic<std::uint64_t> fault_dropped{0};
  std::atomic<std::uint64_t> fault_poison{0};       // requests refused for a --reject-id-prefix id

  // Counts one accepted request's events (keys from id_key) at wall time now_ms.
  void accept(const std::vector<std::string>& keys, std::uint64_t now_ms);

  // The GET /stats body.
  std::string json();

  // POST /reset: every counter to zero, the id set emptied.
  void reset();

 private:
  std::mutex m_;  // guards everything below
  std::unordered_set<std::string> seen_;
  std::uint64_t events_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t first_event_ms_ = 0;  // 0: none yet
  std::uint64_t last_event_ms_ = 0;
};

}  // namespace tg::sink
