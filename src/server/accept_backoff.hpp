// SPDX-License-Identifier: Apache-2.0
// What the front door does when accept fails: which failures pause accepting
// (out of descriptors or memory: re-arming at once would spin), for how long,
// and when a log line is due (at most one per interval, with the count). Pure
// decisions on a clock the caller passes in; one per front door, on its shard.
#pragma once

#include <cstdint>

#include "tollgate/server/probe.hpp"

namespace tg::server {

// The metric reason of an accept failure (errno, positive).
accept_error classify_accept_error(int err) noexcept;

class accept_backoff {
 public:
  struct options {
    unsigned pause_ms = 100;        // accepting stays off this long after a failure that would repeat
    unsigned log_every_ms = 10000;  // at most one log line per interval
  };
  explicit accept_backoff(options o) : o_(o) {}

  struct decision {
    bool shed = false;   // out of descriptors: accept what waits and close it (backlog_shedder)
    bool pause = false;  // do not re-arm the accept before resume_at()
    bool log = false;    // a log line is due now: take_unlogged() for its count
  };
  // A failed accept (errno `err`, positive) at `now_ms`.
  decision failed(int err, std::uint64_t now_ms) noexcept;

  bool paused() const noexcept { return paused_; }
  // Whether a paused accept may be armed again at now_ms (clears the pause).
  bool resume(std::uint64_t now_ms) noexcept;
  // Failures counted but not yet in a log line, once the interval passed (tick).
  bool log_due(std::uint64_t now_ms) const noexcept;
  // The failures since the last line; starts a new interval at now_ms.
  std::uint64_t take_unlogged(std::uint64_t now_ms) noexcept;
  int last_error() const noexcept { return last_error_; }
  unsigned pause_ms() const noexcept { return o_.pause_ms; }

 private:
  options o_;
  bool paused_ = false;
  std::uint64_t resume_at_ = 0;
  std::uint64_t unlogged_ = 0;
  bool logged_once_ = false;
  std::uint64_t logged_at_ = 0;
  int last_error_ = 0;
};

}  // namespace tg::server
