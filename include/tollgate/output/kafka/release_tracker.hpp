// SPDX-License-Identifier: Apache-2.0
// In-order release of ring records whose deliveries complete out of order.
// Each record handed to the producer gets the next sequence number (the
// message's opaque); delivery reports mark sequence numbers done in any
// order, and the ring is released only up to the end of the longest done
// prefix, because the event ring (and the spool behind it) frees from the
// front. Pure bookkeeping over a fixed array: no I/O, no clock, no librdkafka.
// Lives on its shard's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace tg::kafka {

class release_tracker {
 public:
  // At most `capacity` records in flight (pushed and not yet released).
  explicit release_tracker(std::size_t capacity);

  std::size_t capacity() const noexcept { return slots_.size(); }
  std::size_t in_flight() const noexcept { return static_cast<std::size_t>(next_ - base_); }
  bool full() const noexcept { return in_flight() == slots_.size(); }
  bool empty() const noexcept { return next_ == base_; }

  // Adds the next ring record (its position and the position after it), with
  // a caller's stamp (the time it was produced); returns its sequence number.
  // Precondition: !full().
  std::uint64_t push(std::uint64_t begin, std::uint64_t next, std::uint64_t stamp) noexcept;
  // Takes back the last push (the producer did not take the record).
  void unpush() noexcept {
    if (next_ != base_) --next_;
  }
  // Whether `seq` is pushed and not yet done (a report for anything else is
  // stale: a duplicate, or for a producer that was replaced).
  bool pending(std::uint64_t seq) const noexcept;
  // Marks `seq` done; false (and nothing changes) unless pending(seq).
  bool complete(std::uint64_t seq) noexcept;
  // The ring position of a pending record, and its stamp (for re-producing).
  std::uint64_t begin_of(std::uint64_t seq) const noexcept { return at(seq).begin; }
  std::uint64_t stamp_of(std::uint64_t seq) const noexcept { return at(seq).stamp; }
  void restamp(std::uint64_t seq, std::uint64_t stamp) noexcept { slot_at(seq).stamp = stamp; }

  // Drops the done prefix; returns the ring position to release up to (the
  // `next` of the last record dropped), or nothing when the oldest record is
  // not done yet.
  std::optional<std::uint64_t> pop_done() noexcept;
  // Records released so far (counted from the start).
  std::uint64_t released() const noexcept { return base_; }
  // The sequence numbers in flight: [first(), end()).
  std::uint64_t first() const noexcept { return base_; }
  std::uint64_t end() const noexcept { return next_; }

 private:
  struct slot {
    std::uint64_t begin = 0;
    std::uint64_t next = 0;
    std::uint64_t stamp = 0;
    bool done = false;
  };
  const slot& at(std::uint64_t seq) const noexcept { return slots_[seq % slots_.size()]; }
  slot& slot_at(std::uint64_t seq) noexcept { return slots_[seq % slots_.size()]; }

  std::vector<slot> slots_;
  std::uint64_t base_ = 0;  // oldest sequence number not released
  std::uint64_t next_ = 0;  // sequence number the next push gets
};

}  // namespace tg::kafka
