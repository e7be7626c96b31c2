// SPDX-License-Identifier: Apache-2.0
// What a shard's loop asks of each of its parts (the front door, the output,
// the spool driver, ...). A component owns its completions (the loop hands it
// every CQE whose user_data carries its owner id), its options and its
// metrics. It changes state in on_cqe() and acts in poll(), which the loop
// calls once per iteration after the whole batch of completions: so a
// component never re-enters another one from inside a completion.
// Lives on its shard's thread; touched by nothing else.
#pragma once

#include <liburing.h>

#include <cstdint>

#include "tollgate/reactor/user_data.hpp"

namespace tg::reactor {

class component {
 public:
  virtual ~component() = default;

  // A completion whose user_data names this component (tag.owner == id()).
  virtual void on_cqe(const tag& t, const io_uring_cqe& cqe) = 0;
  // Once per loop iteration, after every completion of the batch.
  virtual void poll(std::uint64_t now_ms) { (void)now_ms; }
  // Every tick of the loop's timer (timeouts, retries, housekeeping).
  virtual void tick(std::uint64_t now_ms) { (void)now_ms; }
  // Microseconds until poll() has something to do without a completion
  // (a linger, a backoff, a delayed sync running out); -1: nothing pending.
  virtual long wakeup_in_us(std::uint64_t now_ms) const {
    (void)now_ms;
    return -1;
  }

  owner_id id() const noexcept { return id_; }

 private:
  friend class loop;
  owner_id id_ = loop_owner;
};

}  // namespace tg::reactor
