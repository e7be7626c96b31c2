// SPDX-License-Identifier: Apache-2.0
// The resolver answers through its eventfd and queue, never blocking the
// caller: literals at once, names from its thread, failures as error text.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "tollgate/output/http/resolver.hpp"

using namespace tg::upstream;

namespace {

// Waits (bounded) for the eventfd, then takes one result, as a reactor would.
bool wait_result(resolver& r, resolution& out, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (r.poll(out)) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{r.event_fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      std::uint64_t n = 0;
      [[maybe_unused]] ssize_t rd = ::read(r.event_fd(), &n, sizeof n);
    }
  }
}

std::set<std::string> formatted(const resolution& res) {
  std::set<std::string> s;
  for (const auto& a : res.addresses) s.insert(format_address(a));
  return s;
}

}  // namespace

TEST_CASE("an IPv4 literal resolves at once, reported through the queue") {
  resolver r;
  std::uint64_t id = r.request("127.0.0.1", 8888);
  resolution res;
  REQUIRE(r.poll(res));  // no thread involved: already there
  CHECK(res.id == id);
  CHECK(res.ok());
  REQUIRE(res.addresses.size() == 1);
  CHECK(format_address(res.addresses[0]) == "127.0.0.1:8888");
  CHECK(res.addresses[0].len == sizeof(sockaddr_in));
  std::uint64_t n = 0;
  CHECK(::read(r.event_fd(), &n, sizeof n) == sizeof n);  // and the eventfd was signalled
  CHECK(n == 1);
  CHECK_FALSE(r.poll(res));
}

TEST_CASE("an IPv6 literal resolves at once") {
  resolver r;
  std::uint64_t id = r.request("::1", 443);
  resolution res;
  REQUIRE(r.poll(res));
  CHECK(res.id == id);
  REQUIRE(res.addresses.size() == 1);
  CHECK(format_address(res.addresses[0]) == "[::1]:443");
}

TEST_CASE("localhost resolves to a loopback address off the calling thread") {
  resolver r;
  std::uint64_t id = r.request("localhost", 80);
  resolution res;
  REQUIRE(wait_result(r, res, 10000));
  CHECK(res.id == id);
  REQUIRE(res.ok());
  auto got = formatted(res);
  CHECK((got.count("127.0.0.1:80") == 1 || got.count("[::1]:80") == 1));
  // Stream sockets only: no duplicates for SOCK_DGRAM / SOCK_RAW.
  CHECK(got.size() == res.addresses.size());
}

TEST_CASE("a name that does not exist gives an error, not a hang") {
  resolver r;
  std::uint64_t id = r.request("nonexistent.invalid", 80);
  resolution res;
  // With no network the lookup fails quickly; the bound only keeps a broken
  // DNS set-up from hanging the test suite.
  REQUIRE(wait_result(r, res, 30000));
  CHECK(res.id == id);
  CHECK_FALSE(res.ok());
  CHECK(res.addresses.empty());
  CHECK(res.error.find("cannot resolve 'nonexistent.invalid'") == 0);
}

TEST_CASE("several requests each get their own id and result") {
  resolver r;
  std::set<std::uint64_t> ids{r.request("127.0.0.1", 1), r.request("localhost", 2), r.request("::1", 3)};
  CHECK(ids.size() == 3);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 3; ++i) {
    resolution res;
    REQUIRE(wait_result(r, res, 10000));
    CHECK(res.ok());
    seen.insert(res.id);
  }
  CHECK(seen == ids);
}

TEST_CASE("destroying the resolver with a lookup queued does not wait for it") {
  auto start = std::chrono::steady_clock::now();
  {
    resolver r;
    r.request("nonexistent.invalid", 80);
    r.request("localhost", 80);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}
