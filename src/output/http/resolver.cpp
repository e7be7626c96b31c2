// SPDX-License-Identifier: Apache-2.0
// The resolver thread and its two queues. The state is shared with the thread
// so the owner can go away while a slow getaddrinfo is still running (a DNS
// outage must not stretch shutdown past --drain-timeout).
#include "tollgate/output/http/resolver.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace tg::upstream {

struct resolver::state {
  struct pending {
    std::uint64_t id;
    std::string host;
    std::uint16_t port;
  };

  std::mutex mu;
  std::condition_variable cv;
  std::deque<pending> todo;
  std::deque<resolution> done;
  bool stop = false;
  std::uint64_t next_id = 1;
  int efd = -1;

  ~state() {
    if (efd >= 0) ::close(efd);
  }

  void publish(resolution r) {
    {
      std::lock_guard lk(mu);
      done.push_back(std::move(r));
    }
    std::uint64_t one = 1;
    // Can only fail if the counter would overflow, which needs 2^64 unread results.
    [[maybe_unused]] ssize_t n = ::write(efd, &one, sizeof one);
  }
};

namespace {

// numeric: only IP literals, which never touch the network.
resolution lookup(std::uint64_t id, const std::string& host, std::uint16_t port, bool numeric) {
  resolution r;
  r.id = id;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  // No AI_ADDRCONFIG: it ignores loopback, so "localhost" would fail on a
  // machine whose only interface is lo (containers, CI sandboxes).
  hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    r.error = "cannot resolve '" + host + "': " + (rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc));
    return r;
  }
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    resolved_address a;
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    bool dup = false;
    for (const auto& b : r.addresses) dup = dup || (b.len == a.len && std::memcmp(&b.addr, &a.addr, a.len) == 0);
    if (!dup) r.addresses.push_back(a);
  }
  ::freeaddrinfo(res);
  if (r.addresses.empty()) r.error = "cannot resolve '" + host + "': no TCP addresses";
  return r;
}

bool is_ip_literal(const std::string& host) {
  in_addr a4{};
  in6_addr a6{};
  // A '%' is an IPv6 zone ("fe80::1%eth0"): numeric too, getaddrinfo parses it.
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1 ||
         (host.find(':') != std::string::npos && host.find('%') != std::string::npos);
}

}  // namespace

void resolver::run(std::shared_ptr<state> st) {
  std::unique_lock lk(st->mu);
  for (;;) {
    st->cv.wait(lk, [&] { return st->stop || !st->todo.empty(); });
    if (st->stop) return;
    auto p = std::move(st->todo.front());
    st->todo.pop_front();
    lk.unlock();
    resolution r = lookup(p.id, p.host, p.port, false);
    st->publish(std::move(r));
    lk.lock();
  }
}

resolver::resolver() : state_(std::make_shared<state>()) {
  state_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->efd < 0) throw std::system_error(errno, std::generic_category(), "resolver: eventfd");
  std::thread(run, state_).detach();  // std::thread throws std::system_error itself
}

resolver::~resolver() {
  {
    std::lock_guard lk(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_one();
}

std::uint64_t resolver::request(std::string host, std::uint16_t port) {
  std::uint64_t id;
  {
    std::lock_guard lk(state_->mu);
    id = state_->next_id++;
  }
  if (is_ip_literal(host)) {
    state_->publish(lookup(id, host, port, true));
    return id;
  }
  {
    std::lock_guard lk(state_->mu);
    state_->todo.push_back({id, std::move(host), port});
  }
  state_->cv.notify_one();
  return id;
}

int resolver::event_fd() const noexcept { return state_->efd; }

bool resolver::poll(resolution& out) {
  std::lock_guard lk(state_->mu);
  if (state_->done.empty()) return false;
  out = std::move(state_->done.front());
  state_->done.pop_front();
  return true;
}

std::string format_address(const resolved_address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  std::string out;
  if (a.addr.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&a.addr);
    inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
    out += buf;
    out += ':';
    out += std::to_string(ntohs(s->sin_port));
  } else if (a.addr.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&a.addr);
    inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
    out += '[';
    out += buf;
    out += "]:";
    out += std::to_string(ntohs(s->sin6_port));
  } else {
    out = "(unknown address family)";
  }
  return out;
}

}  // namespace tg::upstream
