// SPDX-License-Identifier: Apache-2.0
// What the event ring holds, in spool terms: the ring's records, oldest first,
// as runs of consecutive sequence numbers of one directory. The output frees
// ring records in order and only says how many; the ledger maps that count
// back to (directory, last sequence number delivered), which is what moves a
// directory's acknowledged position. Pure bookkeeping: no I/O. Lives on its
// shard's thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

namespace tg::spool {

class ledger {
 public:
  // A record of directory `dir` with sequence number `seq` went into the ring
  // (after every record pushed before it).
  void push(std::uint32_t dir, std::uint64_t seq);
  // The oldest `n` records left the ring: calls delivered(dir, first, last)
  // for each piece of a run they cover (sequence numbers first..last, in
  // ring order, oldest first). Returns how many of the n the ledger did not
  // hold (0 unless the ring and the ledger disagree, which is a bug worth a
  // log line).
  std::uint64_t release(std::uint64_t n,
                        const std::function<void(std::uint32_t dir, std::uint64_t first, std::uint64_t last)>& delivered);

  bool empty() const noexcept { return runs_.empty(); }
  // Records held (for tests and the shutdown report).
  std::uint64_t size() const noexcept;

 private:
  struct run {
    std::uint32_t dir = 0;
    std::uint64_t first_seq = 0;
    std::uint64_t count = 0;
  };
  std::deque<run> runs_;
};

}  // namespace tg::spool
