// SPDX-License-Identifier: Apache-2.0
// A shard's event loop: one io_uring, a periodic tick, and the components
// attached to it. Each iteration submits what the last one queued, waits for a
// completion (or the nearest wake-up a component asked for), hands every
// completion of the batch to its owner, advances the CQ once, then polls each
// component in the order they were attached. The loop knows no component by
// name: user_data carries the owner id it handed out (user_data.hpp).
// Owned and run by exactly one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <liburing.h>

#include "tollgate/reactor/component.hpp"
#include "tollgate/reactor/uring.hpp"

namespace tg::reactor {

class loop {
 public:
  // Sets up the ring (throws unsupported when io_uring is unusable here).
  loop(const uring_options& opts, unsigned tick_ms);
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  uring& ring() noexcept { return *ring_; }
  // Registers a component; it is polled after those attached before it.
  // At most 255 per loop.
  void attach(component& c);
  // Arms the tick; call once before the first run_once().
  void start();
  // One iteration (see above).
  void run_once();
  // The monotonic clock (milliseconds) as of the last wake-up.
  std::uint64_t now_ms() const noexcept { return now_; }

  // Shutdown, after the last iteration: submits what is queued, then tears the
  // ring down (the kernel cancels and reaps what is still in flight).
  void close();

 private:
  void arm_tick();

  std::unique_ptr<uring> ring_;
  std::vector<component*> parts_;  // index = owner id - 1
  __kernel_timespec tick_ts_{};
  std::uint64_t now_ = 0;
};

}  // namespace tg::reactor
