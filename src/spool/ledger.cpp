// SPDX-License-Identifier: Apache-2.0
// Runs grow at the back while sequence numbers stay consecutive in one
// directory; a gap (a damaged record skipped) or another directory starts a
// new run, so one run always maps to one contiguous range.
#include "tollgate/spool/ledger.hpp"

#include <algorithm>

namespace tg::spool {

void ledger::push(std::uint32_t dir, std::uint64_t seq) {
  if (!runs_.empty()) {
    run& r = runs_.back();
    if (r.dir == dir && r.first_seq + r.count == seq) {
      ++r.count;
      return;
    }
  }
  runs_.push_back({dir, seq, 1});
}

std::uint64_t ledger::release(
    std::uint64_t n, const std::function<void(std::uint32_t dir, std::uint64_t first, std::uint64_t last)>& delivered) {
  while (n > 0 && !runs_.empty()) {
    run& r = runs_.front();
    const std::uint64_t take = std::min(n, r.count);
    delivered(r.dir, r.first_seq, r.first_seq + take - 1);
    r.first_seq += take;
    r.count -= take;
    n -= take;
    if (r.count == 0) runs_.pop_front();
  }
  return n;
}

std::uint64_t ledger::size() const noexcept {
  std::uint64_t n = 0;
  for (const run& r : runs_) n += r.count;
  return n;
}

}  // namespace tg::spool
