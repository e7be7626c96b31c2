// SPDX-License-Identifier: Apache-2.0
// Why a plain-HTTP batch goes out as one joined buffer: the sender's CPU for
// one 500-event request (~133 KB) over loopback TCP, sent as (a) one copy of
// the events into a buffer and one send, (b) a gather write (sendmsg) of the
// pieces straight from the ring, (c) the joined buffer by io_uring SEND_ZC.
// Argument: the ring's size in MiB (1: the events are in cache; 64: most are
// not, as under load). A thread drains the far end; before timing it checks
// that each shape delivers exactly the request's bytes.
#include <benchmark/benchmark.h>

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tollgate/output/http/batch_request.hpp"

namespace {

using tg::ring::event_ring;
using tg::upstream::gather_request;

constexpr std::uint32_t batch_events = 500;
const std::string head_prefix = "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: ";

// A loopback TCP connection; a thread reads the far end, keeping what it reads
// only while `capture` is set.
struct loopback {
  int tx = -1;
  int rx = -1;
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> capture{false};
  std::string captured;
  std::thread reader;

  loopback() {
    const int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(ls, 1) != 0 ||
        ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (ls >= 0) ::close(ls);
      return;
    }
    tx = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(tx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) rx = ::accept(ls, nullptr, nullptr);
    ::close(ls);
    int one = 1;
    ::setsockopt(tx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (rx < 0) return;
    reader = std::thread([this] {
      std::vector<char> buf(1 << 20);
      for (;;) {
        const ssize_t n = ::recv(rx, buf.data(), buf.size(), 0);
        if (n <= 0) return;
        if (capture.load(std::memory_order_acquire)) captured.append(buf.data(), static_cast<std::size_t>(n));
        received.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_release);
      }
    });
  }
  ~loopback() {
    if (tx >= 0) ::shutdown(tx, SHUT_WR);
    if (reader.joinable()) reader.join();
    if (tx >= 0) ::close(tx);
    if (rx >= 0) ::close(rx);
  }
  bool ok() const { return tx >= 0 && rx >= 0; }
  // Waits until the reader has `total` bytes in all.
  void wait_for(std::uint64_t total) const {
    while (received.load(std::memory_order_acquire) < total) std::this_thread::yield();
  }
};

// A ring of `mib` MiB full of ~264-byte events, cut into 500-event ranges.
struct filled_ring {
  event_ring ring;
  std::vector<std::uint64_t> bounds;  // range i is [bounds[i], bounds[i+1])
  explicit filled_ring(std::size_t mib) : ring(mib << 20) {
    bounds.push_back(ring.read_begin());
    char ev[264];
    std::memset(ev, ' ', sizeof ev);
    for (std::uint64_t n = 0;; ++n) {
      char* p = ring.try_reserve(sizeof ev);
      if (p == nullptr) break;
      const int k = std::snprintf(ev, sizeof ev, "{\"id\":\"%012llu\"", static_cast<unsigned long long>(n));
      ev[k] = ' ';
      ev[sizeof ev - 1] = '}';
      std::memcpy(p, ev, sizeof ev);
      ring.commit();
      if ((n + 1) % batch_events == 0) bounds.push_back(ring.committed_end());
    }
  }
  std::size_t batches() const { return bounds.size() - 1; }
};

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool send_joined(int fd, gather_request& g) {
  const iovec v = g.rest()[0];
  return send_all(fd, static_cast<const char*>(v.iov_base), v.iov_len);
}

bool send_pieces(int fd, gather_request& g) {
  while (!g.done()) {
    const auto rest = g.rest();
    msghdr m{};
    m.msg_iov = rest.data();
    m.msg_iovlen = std::min<std::size_t>(rest.size(), IOV_MAX);
    const ssize_t w = ::sendmsg(fd, &m, MSG_NOSIGNAL);
    if (w <= 0) return false;
    g.advance(static_cast<std::size_t>(w));
  }
  return true;
}

// SEND_ZC of the joined buffer: the buffer is free again only once the
// notification arrives, so each send waits for both completions.
bool send_zc(io_uring& ring, int fd, gather_request& g) {
  const iovec v = g.rest()[0];
  const char* p = static_cast<const char*>(v.iov_base);
  std::size_t off = 0;
  while (off < v.iov_len) {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_send_zc(s, fd, p + off, v.iov_len - off, MSG_NOSIGNAL, 0);
    int expect = 1;
    while (expect > 0) {
      io_uring_cqe* c = nullptr;
      if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_wait_cqe(&ring, &c) != 0) return false;
      if ((c->flags & IORING_CQE_F_NOTIF) == 0) {
        if (c->res <= 0) return false;
        off += static_cast<std::size_t>(c->res);
        if (c->flags & IORING_CQE_F_MORE) ++expect;
      }
      --expect;
      io_uring_cqe_seen(&ring, c);
    }
  }
  return true;
}

enum class shape { joined, pieces, zero_copy };

void run(benchmark::State& state, shape how) {
  filled_ring fr(static_cast<std::size_t>(state.range(0)));
  loopback lo;
  io_uring ring{};
  const bool zc = how == shape::zero_copy;
  if (!lo.ok() || fr.batches() < 2 || (zc && io_uring_queue_init(8, &ring, 0) != 0)) {
    return state.SkipWithError("set-up failed (loopback socket, ring, or io_uring)");
  }
  gather_request g;
  auto build = [&](std::size_t i) {
    if (how == shape::pieces) g.build(fr.ring, fr.bounds[i], fr.bounds[i + 1], head_prefix);
    else g.build_joined(fr.ring, fr.bounds[i], fr.bounds[i + 1], head_prefix);
  };
  auto send = [&]() {
    return how == shape::pieces ? send_pieces(lo.tx, g) : zc ? send_zc(ring, lo.tx, g) : send_joined(lo.tx, g);
  };
  // The check: the bytes that arrive are the request, joined the obvious way.
  gather_request ref;
  ref.build_joined(fr.ring, fr.bounds[1], fr.bounds[2], head_prefix);
  const iovec rv = ref.rest()[0];
  const std::string want(static_cast<const char*>(rv.iov_base), rv.iov_len);
  lo.capture.store(true, std::memory_order_release);
  build(1);
  const bool sent = send();
  lo.wait_for(want.size());
  lo.capture.store(false, std::memory_order_release);
  if (!sent || lo.captured != want) {
    if (zc) io_uring_queue_exit(&ring);
    return state.SkipWithError("the bytes received are not the request");
  }
  std::uint64_t total = want.size();
  std::size_t i = 0;
  for (auto _ : state) {
    build(i);
    total += g.bytes();
    if (!send()) {
      state.SkipWithError("send failed");
      break;
    }
    i = (i + 1) % fr.batches();
  }
  lo.wait_for(total);
  if (zc) io_uring_queue_exit(&ring);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * batch_events);
}

void bm_send_joined(benchmark::State& state) { run(state, shape::joined); }
void bm_send_pieces(benchmark::State& state) { run(state, shape::pieces); }
void bm_send_zero_copy(benchmark::State& state) { run(state, shape::zero_copy); }

}  // namespace

BENCHMARK(bm_send_joined)->Arg(1)->Arg(64);
BENCHMARK(bm_send_pieces)->Arg(1)->Arg(64);
BENCHMARK(bm_send_zero_copy)->Arg(1)->Arg(64);
