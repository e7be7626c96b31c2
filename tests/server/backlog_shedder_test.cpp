// SPDX-License-Identifier: Apache-2.0
// The shedder closes what waits in a listener's backlog without a descriptor
// of the process's: at the descriptor limit too, and never more than waits.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "backlog_shedder.hpp"

using namespace tg::server;

namespace {

int listener(sockaddr_in& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return fd;
}

int client(const sockaddr_in& addr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Whether the server closed this client's connection (EOF within a second).
bool closed_by_server(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 1000) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

}  // namespace

TEST_CASE("the shedder closes as many waiting connections as it is allowed, and leaves the rest waiting") {
  sockaddr_in addr;
  const int lfd = listener(addr);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(client(addr));
  backlog_shedder shedder;
  CHECK(shedder.shed(lfd, 2) == 2);
  CHECK(closed_by_server(clients[0]));
  CHECK(closed_by_server(clients[1]));
  // The third still waits, for an accept of the server's own.
  const int third = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  CHECK(third >= 0);
  // An empty backlog: nothing to shed, and no wait for the next client.
  CHECK(shedder.shed(lfd, 8) == 0);
  ::close(third);
  for (int fd : clients) ::close(fd);
  ::close(lfd);
}

TEST_CASE("the shedder still sheds when the process has no descriptor left") {
  sockaddr_in addr;
  const int lfd = listener(addr);
  const int waiting = client(addr);
  backlog_shedder shedder;  // made while there are descriptors, as the front door does at start
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit low = old;
  low.rlim_cur = 128;  // a small table to fill
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> filler;
  for (int fd; (fd = ::dup(lfd)) >= 0;) filler.push_back(fd);
  const int err = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC) < 0 ? errno : 0;
  const unsigned shed = shedder.shed(lfd, 8);
  for (int fd : filler) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &old);
  CHECK(err == EMFILE);  // out of descriptors indeed
  CHECK(shed == 1);
  CHECK(closed_by_server(waiting));
  ::close(waiting);
  ::close(lfd);
}
