// SPDX-License-Identifier: Apache-2.0
// The dead-letter file (--dead-letter PATH): events the upstream refused on
// their own, one JSON object per line with the time, the upstream's status and
// answer, and the event exactly as the client sent it, so an operator can fix
// and replay them. Formatting is pure; the shard writes the line via io_uring.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace tg::upstream {

// Appends {"time":"<RFC 3339, ms, UTC>","status":400,"detail":"<escaped>","event":<event>}\n.
// The event's bytes are copied verbatim except that CR and LF become spaces:
// in valid JSON they can only be white space between tokens (never inside a
// string), and a pretty-printed event must not break the one-line-per-record
// framing. An empty event is written as null.
void append_dead_letter(std::string& out, std::string_view event_json, int status, std::string_view upstream_detail,
                        const timespec& when);

// The open dead-letter file, created if missing and always appended to
// (O_APPEND, so lines from several shards never overwrite each other). Opened
// once at start-up, shared by the shards, which only write to fd().
class dead_letter_file {
 public:
  // Throws std::system_error naming the path if it cannot be opened.
  explicit dead_letter_file(const std::string& path);
  ~dead_letter_file();
  dead_letter_file(const dead_letter_file&) = delete;
  dead_letter_file& operator=(const dead_letter_file&) = delete;

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace tg::upstream
