// SPDX-License-Identifier: Apache-2.0
// The loop hands each completion to the component whose id it carries, polls
// every component once per iteration in attach order, ticks, and wakes for
// the nearest wake-up a component asked for. On a real io_uring.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tollgate/base/clock.hpp"
#include "tollgate/reactor/loop.hpp"

using namespace tg;
using namespace tg::reactor;

namespace {
const bool uring_available = [] {
  try {
    uring probe(uring_options{8});
    return true;
  } catch (const unsupported& e) {
    std::fprintf(stderr, "SKIP: io_uring is not usable here: %s\n", e.what());
    std::exit(77);
  }
}();

struct recorder : component {
  std::string name;
  std::vector<std::string>* trace;
  std::vector<std::pair<std::uint8_t, std::uint32_t>> seen;  // (op, slot) of each completion
  long wake_us = -1;
  unsigned ticks = 0;
  recorder(std::string n, std::vector<std::string>& t) : name(std::move(n)), trace(&t) {}
  void on_cqe(const tag& t, const io_uring_cqe& cqe) override {
    CHECK(t.owner == id());
    CHECK(cqe.res == 0);
    seen.emplace_back(t.op, t.slot);
  }
  void poll(std::uint64_t) override { trace->push_back(name); }
  void tick(std::uint64_t) override { ++ticks; }
  long wakeup_in_us(std::uint64_t) const override { return wake_us; }
  void nop(uring& r, std::uint8_t op, std::uint32_t slot) {
    io_uring_sqe* s = r.sqe();
    io_uring_prep_nop(s);
    io_uring_sqe_set_data64(s, encode(id(), op, slot, 0));
  }
};
}  // namespace

TEST_CASE("the loop routes completions by owner id and polls in attach order") {
  std::vector<std::string> trace;
  loop l({64}, 1000);
  recorder a("a", trace), b("b", trace);
  l.attach(a);
  l.attach(b);
  CHECK(a.id() != b.id());
  CHECK(a.id() != loop_owner);
  l.start();
  a.nop(l.ring(), 4, 10);
  b.nop(l.ring(), 9, 20);
  b.nop(l.ring(), 9, 21);
  for (int i = 0; i < 10 && (a.seen.size() < 1 || b.seen.size() < 2); ++i) l.run_once();
  REQUIRE(a.seen.size() == 1);
  REQUIRE(b.seen.size() == 2);
  CHECK(a.seen[0] == std::pair<std::uint8_t, std::uint32_t>{4, 10});
  CHECK(b.seen[0].first == 9);
  REQUIRE(trace.size() >= 2);
  CHECK(trace[0] == "a");
  CHECK(trace[1] == "b");
}

TEST_CASE("the loop wakes for a component's wake-up without any completion, and ticks") {
  std::vector<std::string> trace;
  loop l({64}, 20);
  recorder a("a", trace);
  a.wake_us = 1000;  // 1 ms
  l.attach(a);
  l.start();
  const std::uint64_t t0 = monotonic_ms();
  for (int i = 0; i < 5; ++i) l.run_once();
  CHECK(trace.size() == 5);  // five iterations, none waiting for the 20 ms tick
  a.wake_us = -1;
  while (a.ticks == 0 && monotonic_ms() - t0 < 2000) l.run_once();
  CHECK(a.ticks >= 1);
  l.close();
}
