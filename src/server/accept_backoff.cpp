// SPDX-License-Identifier: Apache-2.0
// Accept failures: classification, the pause, the log interval.
#include "accept_backoff.hpp"

#include <cerrno>

namespace tg::server {

accept_error classify_accept_error(int err) noexcept {
  switch (err) {
    case EMFILE: return accept_error::process_fd_limit;
    case ENFILE: return accept_error::system_fd_limit;
    case ENOMEM:
    case ENOBUFS: return accept_error::no_memory;
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case EINTR:
    case EAGAIN: return accept_error::connection;
    default: return accept_error::other;
  }
}

accept_backoff::decision accept_backoff::failed(int err, std::uint64_t now_ms) noexcept {
  decision d;
  last_error_ = err;
  ++unlogged_;
  d.log = !logged_once_ || now_ms - logged_at_ >= o_.log_every_ms;
  const accept_error kind = classify_accept_error(err);
  // One connection's trouble (aborted before it was accepted, refused by a
  // firewall rule): the next connection may well be fine, so go on at once.
  if (kind == accept_error::connection) return d;
  d.shed = kind == accept_error::process_fd_limit || kind == accept_error::system_fd_limit;
  d.pause = true;
  paused_ = true;
  resume_at_ = now_ms + o_.pause_ms;
  return d;
}

bool accept_backoff::resume(std::uint64_t now_ms) noexcept {
  if (!paused_ || now_ms < resume_at_) return false;
  paused_ = false;
  return true;
}

bool accept_backoff::log_due(std::uint64_t now_ms) const noexcept {
  return unlogged_ > 0 && logged_once_ && now_ms - logged_at_ >= o_.log_every_ms;
}

std::uint64_t accept_backoff::take_unlogged(std::uint64_t now_ms) noexcept {
  const std::uint64_t n = unlogged_;
  unlogged_ = 0;
  logged_once_ = true;
  logged_at_ = now_ms;
  return n;
}

}  // namespace tg::server
