// SPDX-License-Identifier: Apache-2.0
// Time helpers shared by every area: a monotonic clock in milliseconds for
// deadlines and wall-clock formatting for logs and event stamping.
#pragma once

#include <cstdint>
#include <ctime>

namespace tg {

// Monotonic milliseconds (CLOCK_MONOTONIC_COARSE: a few ms resolution is
// enough for deadlines, and it costs no syscall).
std::uint64_t monotonic_ms() noexcept;

// Monotonic nanoseconds (CLOCK_MONOTONIC): for latencies, where the coarse
// clock's few milliseconds of resolution would hide everything.
std::uint64_t monotonic_ns() noexcept;

// Wall clock now, UTC.
timespec wall_now() noexcept;

// Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, no terminator) into out.
constexpr std::size_t rfc3339_millis_len = 24;
void format_rfc3339_millis(const timespec& t, char* out) noexcept;

}  // namespace tg
