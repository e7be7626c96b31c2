// SPDX-License-Identifier: Apache-2.0
// Closing what waits in a listener's backlog when the process has no
// descriptor left to accept it with. Each connection is accepted into an
// io_uring direct descriptor (a slot in a registered file table, not in the
// process's descriptor table) and closed there. No other thread can take
// that slot: a reserve descriptor, closed to make room and reopened after,
// was lost whenever another shard's accept took the number first, and that
// shard could not shed again.
#pragma once

#include <liburing.h>

namespace tg::server {

class backlog_shedder {
 public:
  // Its own small io_uring (one descriptor, taken at start-up while there are
  // some) with a one-slot file table. Throws reactor::unsupported when the
  // kernel has no sparse file tables (5.19).
  backlog_shedder();
  ~backlog_shedder();
  backlog_shedder(const backlog_shedder&) = delete;
  backlog_shedder& operator=(const backlog_shedder&) = delete;

  // Accepts and closes up to `max` of the connections that wait on
  // listen_fd now (never one that arrives later: each accept follows a
  // zero-timeout poll that saw one waiting). Returns how many.
  unsigned shed(int listen_fd, unsigned max);

 private:
  io_uring ring_{};
};

}  // namespace tg::server
