// SPDX-License-Identifier: Apache-2.0
// The loop's iteration. Waiting is bounded by the nearest wake-up any
// component asked for, so a lingering batch or a delayed group commit starts
// on time even when no completion arrives.
#include "tollgate/reactor/loop.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"

namespace tg::reactor {

loop::loop(const uring_options& opts, unsigned tick_ms) : ring_(std::make_unique<uring>(opts)) {
  tick_ts_.tv_sec = tick_ms / 1000;
  tick_ts_.tv_nsec = static_cast<long long>(tick_ms % 1000) * 1000000LL;
  now_ = monotonic_ms();
}

void loop::attach(component& c) {
  if (parts_.size() >= 255) throw std::length_error("a loop takes at most 255 components");
  parts_.push_back(&c);
  c.id_ = static_cast<owner_id>(parts_.size());
}

void loop::start() { arm_tick(); }

void loop::arm_tick() {
  io_uring_sqe* s = ring_->sqe();
  io_uring_prep_timeout(s, &tick_ts_, 0, 0);
  io_uring_sqe_set_data64(s, encode(loop_owner, loop_tick, 0, 0));
}

void loop::run_once() {
  long wake_us = -1;
  for (const component* c : parts_) {
    const long w = c->wakeup_in_us(now_);
    if (w >= 0 && (wake_us < 0 || w < wake_us)) wake_us = w;
  }
  const int rc = wake_us >= 0 ? ring_->submit_and_wait_us(static_cast<unsigned long>(wake_us)) : ring_->submit_and_wait(1);
  if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EBUSY) {
    // Not fatal: the next iteration tries again.
    log::error("io_uring_submit_and_wait failed", {{"error", std::strerror(-rc)}});
  }
  now_ = monotonic_ms();
  bool ticked = false;
  ring_->reap([&](const io_uring_cqe& cqe) {
    const tag t = decode(cqe.user_data);
    if (t.owner == loop_owner) {
      if (t.op == loop_tick) ticked = true;
      return;
    }
    if (t.owner <= parts_.size()) parts_[t.owner - 1]->on_cqe(t, cqe);
  });
  if (ticked) {
    arm_tick();
    for (component* c : parts_) c->tick(now_);
  }
  for (component* c : parts_) c->poll(now_);
}

void loop::close() {
  if (!ring_) return;
  ring_->submit();
  ring_.reset();
}

}  // namespace tg::reactor
