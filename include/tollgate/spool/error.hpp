// SPDX-License-Identifier: Apache-2.0
// The spool's error value. Functions the shard may call while serving requests
// (append, flush, sync, rollover) return result<T, error> and never throw; the
// errno is kept so the one place that maps errors to 503 can log it.
#pragma once

#include <cstdint>

namespace tg::spool {

enum class errc : std::uint8_t {
  io,                   // a system call failed; `sys` holds errno (ENOSPC: disk full)
  too_large,            // a record's payload exceeds the format's or the options' bound
  buffer_full,          // the write buffer has no room: write pending() out first
  unsupported_version,  // a segment written by a newer format: left untouched
};

struct error {
  errc code = errc::io;
  int sys = 0;             // errno for errc::io, 0 otherwise
  const char* what = "";  // the operation that failed (a string literal), for the log line
};

}  // namespace tg::spool
