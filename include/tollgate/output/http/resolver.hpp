// SPDX-License-Identifier: Apache-2.0
// Host name resolution off the reactor thread. getaddrinfo blocks (for seconds
// when DNS is slow), so a background thread runs it and the reactor learns of
// results through an eventfd it can read on its own io_uring. One resolver per
// shard; it is used at connect and on reconnect, never on the request path.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tg::upstream {

struct resolved_address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

struct resolution {
  std::uint64_t id = 0;                     // as request() returned it
  std::vector<resolved_address> addresses;  // getaddrinfo order, duplicates removed
  std::string error;                        // empty on success (then addresses is not empty)
  bool ok() const noexcept { return error.empty(); }
};

// request() and poll() may be called from any thread (a mutex guards the
// queues; they are not on the hot path), but the eventfd has one reader, so in
// practice both belong to the owning shard's thread.
class resolver {
 public:
  // Starts the thread and creates the eventfd; throws std::system_error at
  // start-up if either fails.
  resolver();
  // Never waits for a lookup in progress: the thread is detached, finishes its
  // getaddrinfo, sees it is no longer wanted and exits.
  ~resolver();
  resolver(const resolver&) = delete;
  resolver& operator=(const resolver&) = delete;

  // Queues a lookup of host (a DNS name, or an IPv4 / IPv6 literal without
  // brackets) for TCP to `port`, and returns its id. Never blocks: a literal is
  // answered on the calling thread, a name by the background thread, and both
  // are reported through poll().
  std::uint64_t request(std::string host, std::uint16_t port);

  // Non-blocking, EFD_NONBLOCK counter: readable (non-zero) when results are
  // waiting. Read it (8 bytes) then call poll() until it returns false.
  int event_fd() const noexcept;

  // Takes one finished lookup, oldest first; false when none is waiting.
  bool poll(resolution& out);

 private:
  struct state;
  static void run(std::shared_ptr<state> st);  // the background thread
  std::shared_ptr<state> state_;
};

// "127.0.0.1:8888" or "[::1]:8888", for logs and errors.
std::string format_address(const resolved_address& a);

}  // namespace tg::upstream
