// SPDX-License-Identifier: Apache-2.0
// Retry pacing for the upstream client: exponential backoff with full jitter
// (delay uniform in [0, min(max, initial * 2^attempt)], so shards that failed
// together do not retry together) and Retry-After parsing. Pure computation:
// the caller owns the clock and the timers. One backoff per shard (or per
// connection), used only on that shard's thread.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace tg::upstream {

class backoff {
 public:
  // initial_ms is the ceiling of the first delay, max_ms the ceiling of every
  // delay (max_ms < initial_ms is treated as max_ms == initial_ms). Shards pass
  // different seeds so their jitter is independent.
  backoff(unsigned initial_ms, unsigned max_ms, std::uint64_t seed) noexcept;

  // The delay before the next attempt, then counts the attempt.
  unsigned next_delay_ms() noexcept;
  // After a success: the next failure starts again from initial_ms.
  void reset() noexcept { attempt_ = 0; }
  // Failures since the last reset (how many delays next_delay_ms() handed out).
  unsigned attempt() const noexcept { return attempt_; }
  // The ceiling next_delay_ms() will draw under: min(max, initial * 2^attempt).
  unsigned current_ceiling_ms() const noexcept;

 private:
  std::uint64_t next_random() noexcept;

  unsigned initial_ms_;
  unsigned max_ms_;
  unsigned attempt_ = 0;
  std::uint64_t state_;
};

// Longest Retry-After honoured: an upstream asking for a day is treated as
// asking for an hour, so one bad header cannot park the events indefinitely.
constexpr unsigned max_retry_after_ms = 3'600'000;

// Retry-After (RFC 9110 section 10.2.3): delay-seconds ("120") or an
// IMF-fixdate HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT", compared with `now`;
// a date in the past means 0). Surrounding white space is allowed. Values are
// capped at max_retry_after_ms; anything else (negative, fractional, the
// obsolete RFC 850 / asctime date forms, garbage) gives nullopt.
std::optional<unsigned> parse_retry_after_ms(std::string_view value, std::time_t now) noexcept;

// The delay before retrying after a failure: the jittered backoff, raised to
// the upstream's Retry-After when it asked for longer. Retry-After is a lower
// bound, not a replacement, so the backoff still grows (and still jitters)
// across repeated failures that each carry a short Retry-After.
unsigned retry_delay_ms(backoff& b, std::optional<unsigned> retry_after_ms) noexcept;

}  // namespace tg::upstream
