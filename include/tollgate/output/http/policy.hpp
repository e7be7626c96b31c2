// SPDX-License-Identifier: Apache-2.0
// What the HTTP output does with an upstream's answer to a batch: the policy
// of the failure table in docs/, as one pure function so it can be tested on
// its own. Nothing is ever dropped: events are delivered, split, retried or
// dead-lettered (written to the --dead-letter file and counted).
#pragma once

#include <cstdint>

namespace tg::upstream {

enum class verdict : std::uint8_t {
  delivered,    // 2xx: free the ring space
  split,        // 400/413 on a batch of several: resend each half
  dead_letter,  // 400/413 on a single event, or another 4xx: the dead-letter file
  retry,        // 408, 429, 5xx, 1xx/3xx: back off (at least Retry-After), send again
  auth,         // 401/403: a configuration error, not the events' fault: keep, back off, log loudly
};

verdict judge(int status, std::uint32_t events) noexcept;

const char* verdict_name(verdict v) noexcept;

}  // namespace tg::upstream
