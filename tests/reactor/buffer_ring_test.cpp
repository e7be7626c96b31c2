// SPDX-License-Identifier: Apache-2.0
// The provided-buffer ring: a multishot recv fills at most the buffer's size,
// never the padding after it, so a parser may read past what it was given
// (the front door validates bodies where they were received). On a real
// io_uring with a socket pair.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tollgate/reactor/uring.hpp"

using namespace tg::reactor;

namespace {
const bool uring_available = [] {
  try {
    uring probe(uring_options{8});
    buffer_ring br(probe, 7, 2, 1024);
    return true;
  } catch (const unsupported& e) {
    std::fprintf(stderr, "SKIP: io_uring or its provided-buffer rings are not usable here: %s\n", e.what());
    std::exit(77);
  }
}();
}  // namespace

TEST_CASE("a multishot recv fills the buffers but never the padding after them") {
  constexpr unsigned count = 4, size = 1024, padding = 64;
  constexpr std::uint16_t group = 3;
  uring ring(uring_options{16});
  buffer_ring br(ring, group, count, size, padding);
  CHECK(br.buffer_size() == size);
  for (unsigned b = 0; b + 1 < count; ++b) {
    const auto bid = static_cast<std::uint16_t>(b);
    CHECK(br.buffer(static_cast<std::uint16_t>(bid + 1)) - br.buffer(bid) == static_cast<std::ptrdiff_t>(size + padding));
  }
  // Mark every padding; the kernel must leave the marks.
  for (std::uint16_t b = 0; b < count; ++b) std::memset(br.buffer(b) + size, 0x5a, padding);

  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  io_uring_sqe* s = ring.sqe();
  io_uring_prep_recv_multishot(s, sv[0], nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = group;
  io_uring_sqe_set_data64(s, 1);
  ring.submit();

  // More than two buffers' worth: the recv must split it at `size`.
  std::string sent(2 * size + 300, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 26);
  REQUIRE(::write(sv[1], sent.data(), sent.size()) == static_cast<ssize_t>(sent.size()));

  std::string got;
  for (int round = 0; round < 50 && got.size() < sent.size(); ++round) {
    ring.submit_and_wait_us(100000);
    ring.reap([&](const io_uring_cqe& cqe) {
      REQUIRE(cqe.res > 0);
      REQUIRE((cqe.flags & IORING_CQE_F_BUFFER) != 0);
      CHECK(cqe.res <= static_cast<int>(size));
      const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      got.append(br.buffer(bid), static_cast<std::size_t>(cqe.res));
      br.give_back(bid);
    });
    br.publish();
  }
  CHECK(got == sent);
  for (std::uint16_t b = 0; b < count; ++b) {
    CAPTURE(b);
    CHECK(std::string(br.buffer(b) + size, padding) == std::string(padding, '\x5a'));
  }
  ::close(sv[0]);
  ::close(sv[1]);
}
