// SPDX-License-Identifier: Apache-2.0
// SO_REUSEPORT listeners. Resolution happens once at start-up, before any
// shard runs, so getaddrinfo may block here.
#include "listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tg::server {
namespace {
constexpr int listen_backlog = 4096;

void split_host_port(const std::string& hp, std::string& host, std::string& port) {
  if (!hp.empty() && hp[0] == '[') {
    const auto close = hp.find(']');
    if (close == std::string::npos || close + 1 >= hp.size() || hp[close + 1] != ':') {
      throw std::runtime_error("--listen \"" + hp + "\": expected [IPv6]:PORT");
    }
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
    return;
  }
  const auto colon = hp.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--listen \"" + hp + "\": expected HOST:PORT");
  host = hp.substr(0, colon);
  port = hp.substr(colon + 1);
}
// SO_REUSEPORT lets any socket of the same user that sets it too join the
// group on a port, and then the kernel hands it a share of our clients: a
// second tollgate started by mistake on the same --listen, or another server
// that happened to pick this port. So before the group is bound, one socket
// without SO_REUSEPORT must be able to bind the address: it cannot while
// anyone listens there. SO_REUSEADDR keeps connections in TIME_WAIT from a
// previous run from failing the check. Port 0 needs no check: the kernel
// never picks a port a listener holds.
void check_address_free(const sockaddr_storage& addr, socklen_t addr_len, int family, const std::string& host_port) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), addr_len);
  const int e = errno;
  ::close(fd);
  if (rc == 0) return;
  if (e == EADDRINUSE) {
    throw std::runtime_error("cannot listen on " + host_port +
                             ": another process is listening there (with SO_REUSEPORT it would share our clients)");
  }
  throw std::runtime_error("cannot listen on " + host_port + ": " + std::strerror(e));
}

unsigned short port_of(const sockaddr_storage& a, int family) {
  return family == AF_INET6 ? ntohs(reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port)
                            : ntohs(reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
}
}  // namespace

std::vector<int> bind_listeners(const std::string& host_port, unsigned count, unsigned short& port_out) {
  std::string host, port;
  split_host_port(host_port, host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("--listen \"" + host_port + "\": " + ::gai_strerror(rc));
  sockaddr_storage addr{};
  socklen_t addr_len = static_cast<socklen_t>(res->ai_addrlen);
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  const int family = res->ai_family;
  ::freeaddrinfo(res);
  if (port_of(addr, family) != 0) check_address_free(addr, addr_len, family, host_port);

  std::vector<int> fds;
  for (unsigned i = 0; i < count; ++i) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      throw std::runtime_error(std::string("SO_REUSEPORT: ") + std::strerror(errno));
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      const int e = errno;
      ::close(fd);
      for (int f : fds) ::close(f);
      throw std::runtime_error("cannot listen on " + host_port + ": " + std::strerror(e));
    }
    if (::listen(fd, listen_backlog) != 0) throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
    if (i == 0) {
      // With port 0 the kernel chose; every other shard binds the same port.
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      const unsigned short p = port_of(bound, family);
      port_out = p;
      if (family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(p);
      else reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(p);
    }
    fds.push_back(fd);
  }
  return fds;
}

}  // namespace tg::server
