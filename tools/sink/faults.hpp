// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's fault injection: the settings (set by flags at start and by
// POST /faults at run time), their JSON form, and the decision for one request
// as pure functions, so the logic is unit-tested without sockets or clocks.
// One faults value is shared by every shard behind a mutex (sink_handler.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/base/result.hpp"

namespace tg::sink {

inline constexpr std::uint64_t max_latency_ms = 3'600'000;

struct faults {
  std::uint64_t latency_ms = 0;    // every ingest response waits this long
  int status = 503;                // the status of injected failures
  std::uint64_t status_count = 0;  // a run: the next N requests get `status` (counts down)
  double status_ratio = 0;         // then a share of requests (0..1) gets `status`
  std::string retry_after = "1";   // Retry-After on injected failures; "" sends none
  std::string reject_id_prefix;    // 400 for a request with an event id starting with it; "" off
  std::uint64_t drop_count = 0;    // a run: the next N requests are closed unanswered (counts down)
  double drop_ratio = 0;           // then a share of requests (0..1) is closed unanswered
};

// The fields present in `json` (an object) replace those of `base`; absent
// ones are kept. All or nothing: an unknown field, a wrong type or a value out
// of range gives the reason and changes nothing. null clears a string field.
// fail_status, fail_count and fail_ratio (the flags' names) are aliases of
// status, status_count and status_ratio.
result<faults, std::string> merge_faults_json(std::string_view json, const faults& base);

// The settings as one JSON object (the GET /faults body; merge_faults_json reads it back).
std::string faults_json(const faults& f);

enum class action : std::uint8_t {
  pass,  // handle the request normally
  drop,  // close the connection without a response
  fail,  // answer f.status (+ Retry-After)
};

// One request's fate. u_drop and u_fail are uniform draws in [0,1). Drops come
// before failures and runs before ratios; a run taken counts down in `f`.
action decide(faults& f, double u_drop, double u_fail) noexcept;

// Whether a request first seen at first_ms must still wait at now_ms. The
// shard's clock is coarse (a tick of clock_ms): both stamps may lag real time
// by up to that, so waiting latency + clock_ms keeps the delay a lower bound.
// first_ns: CLOCK_MONOTONIC when the request was first held back, 0 on its
// first try (which is always held back when there is a latency to add).
inline bool still_delayed(const faults& f, std::uint64_t first_ns, std::uint64_t now_ns) noexcept {
  return f.latency_ms > 0 && (first_ns == 0 || now_ns - first_ns < std::uint64_t{f.latency_ms} * 1000000u);
}

// Whether an event id is one the sink was told to reject.
inline bool poisoned(const faults& f, std::string_view id) noexcept {
  return !f.reject_id_prefix.empty() && id.starts_with(f.reject_id_prefix);
}

}  // namespace tg::sink
