// SPDX-License-Identifier: Apache-2.0
// The front door's side of outcome::pass: pulling the pass-through's answers
// into their connections, and the client's address for X-Forwarded-For.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "front_door.hpp"

namespace tg::server {

// Moves the pass-through's answers into their connections' output, as far
// as the output bound allows: a client that does not read stops the pull, and
// the pass-through then stops reading the upstream.
void front_door::pull_replies() {
  std::size_t keep = 0;
  for (std::size_t i = 0; i < reply_slots_.size(); ++i) {
    const std::uint32_t slot = reply_slots_[i];
    if (!conns_[slot]) continue;
    connection& c = *conns_[slot];
    if (!c.in_use || c.closing || !c.reply) {
      c.reply_listed = false;
      continue;
    }
    if (output_blocked(c) || c.unsent() >= opts_.max_output_bytes) {
      reply_slots_[keep++] = slot;
      continue;
    }
    const deferred_reply::state st = c.reply->pull(c.out_pending, opts_.max_output_bytes - c.unsent());
    mark_dirty(slot);
    if (st == deferred_reply::state::pending) {
      reply_slots_[keep++] = slot;
      continue;
    }
    c.reply.reset();
    c.reply_listed = false;
    if (st == deferred_reply::state::aborted) {
      close_conn(c, slot);  // the answer was cut short: the client must see it end
      continue;
    }
    // While stopping, a connection ends after the answer it waited for.
    if (st == deferred_reply::state::done_close || draining_) c.close_after_send = true;
    if (!c.close_after_send) set_deadline(c, dl_idle, opts_.idle_timeout_ms);
    drain_stash(c, slot);
  }
  reply_slots_.resize(keep);
}

std::string_view front_door::peer_of(connection& c) {
  if (c.peer.empty()) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    char text[INET6_ADDRSTRLEN] = "unknown";
    if (::getpeername(c.fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      if (ss.ss_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, text, sizeof text);
      } else if (ss.ss_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, text, sizeof text);
      }
    }
    c.peer = text;
  }
  return c.peer;
}

}  // namespace tg::server
