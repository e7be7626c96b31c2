// SPDX-License-Identifier: Apache-2.0
// --record PATH: every accepted event appended as one JSON Lines line, bytes as
// received (CR and LF, legal only between JSON tokens, become spaces). Shared
// by every shard: one mutex, one write(2) per request, so a request's events
// stay together and lines from different shards never interleave.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace tg::sink {

class recorder {
 public:
  // Opens PATH for appending (created 0644); "" records nothing. Throws
  // std::runtime_error when the file cannot be opened (a start-up error).
  explicit recorder(const std::string& path);
  ~recorder();
  recorder(const recorder&) = delete;
  recorder& operator=(const recorder&) = delete;

  bool enabled() const { return fd_ >= 0; }

  // Appends `lines` (already flattened, each ending in '\n'); false on a write
  // error (the caller logs; the events stay accepted, as the upstream said 204).
  bool append(std::string_view lines);

  // Appends `event` to `out` with CR/LF made spaces and a '\n' after it.
  static void flatten(std::string& out, std::string_view event);

 private:
  std::mutex m_;
  int fd_ = -1;
};

}  // namespace tg::sink
