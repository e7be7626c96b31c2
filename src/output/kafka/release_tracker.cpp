// SPDX-License-Identifier: Apache-2.0
// The done-prefix bookkeeping behind the Kafka output's in-order release.
#include "tollgate/output/kafka/release_tracker.hpp"

#include <stdexcept>

namespace tg::kafka {

release_tracker::release_tracker(std::size_t capacity) : slots_(capacity) {
  if (capacity == 0) throw std::invalid_argument("release_tracker: capacity 0");
}

std::uint64_t release_tracker::push(std::uint64_t begin, std::uint64_t next, std::uint64_t stamp) noexcept {
  slot& s = slot_at(next_);
  s.begin = begin;
  s.next = next;
  s.stamp = stamp;
  s.done = false;
  return next_++;
}

bool release_tracker::pending(std::uint64_t seq) const noexcept {
  return seq >= base_ && seq < next_ && !at(seq).done;
}

bool release_tracker::complete(std::uint64_t seq) noexcept {
  if (!pending(seq)) return false;
  slot_at(seq).done = true;
  return true;
}

std::optional<std::uint64_t> release_tracker::pop_done() noexcept {
  std::optional<std::uint64_t> upto;
  while (base_ != next_ && at(base_).done) {
    upto = at(base_).next;
    ++base_;
  }
  return upto;
}

}  // namespace tg::kafka
