// SPDX-License-Identifier: Apache-2.0
// The HTTP output's batches over one shard's event ring, in ring order. A
// batch is a range of ring records cut once it is full (count or bytes) or
// its oldest record has lingered; a 400 splits it in place into halves; ring
// space is released only from the front, once every batch before a position
// is done (delivered or dead-lettered), because the ring frees in order.
// Pure bookkeeping over the ring: no I/O, no clock (callers pass `now`).
// Lives on its shard's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "tollgate/ring/event_ring.hpp"

namespace tg::upstream {

struct batch {
  enum class state : std::uint8_t { queued, inflight, done };
  std::uint64_t id = 0;
  std::uint64_t begin = 0;  // ring position of the first record
  std::uint64_t end = 0;    // ring position after the last record
  std::uint32_t events = 0;
  std::size_t body_bytes = 0;  // the JSON array's size; 0 after a split (measured when sent)
  state st = state::queued;
  std::uint64_t not_before = 0;
  unsigned attempts = 0;
};

struct batch_limits {
  std::size_t max_events = 500;
  std::size_t max_bytes = 1 << 20;  // of the JSON array, "[" "," "]" included
  unsigned linger_ms = 5;
  unsigned max_in_flight = 8;
};

class batch_queue {
 public:
  batch_queue(ring::event_ring& events, const batch_limits& limits);

  // Cuts the next batch once it is full or its oldest record lingered, and
  // only while every cut batch is on its way and fewer than max_in_flight
  // are: what is cut is sent before more is cut. The scan of unbatched
  // records resumes where the last call stopped (each record is measured
  // once). Returns the new batch, or null.
  batch* cut(std::uint64_t now);
  // Whether cut() could cut now if records were due (for wake-ups).
  bool can_cut() const;
  // When the oldest unbatched record was first seen (0: none waiting).
  std::uint64_t pending_since() const noexcept { return pending_since_; }

  batch* find(std::uint64_t id);
  // Replaces b by its two halves (b keeps the first), both queued again.
  void split(batch& b, std::uint64_t now);
  // Frees the ring up to the end of the leading done batches; returns the
  // records freed.
  std::uint64_t release_done();

  std::deque<batch>& batches() noexcept { return batches_; }
  const std::deque<batch>& batches() const noexcept { return batches_; }
  bool empty() const noexcept { return batches_.empty(); }
  // Records freed from the ring so far.
  std::uint64_t released() const noexcept { return released_; }

 private:
  ring::event_ring& events_;
  batch_limits lim_;
  std::deque<batch> batches_;
  std::uint64_t cursor_;             // ring position of the first record not yet in a batch
  std::uint64_t scan_pos_;           // how far the unbatched records have been measured
  std::uint32_t scan_n_ = 0;         // records in [cursor_, scan_pos_)
  std::size_t scan_bytes_ = 2;       // their JSON array size, "[" and "]" included
  bool scan_full_ = false;           // [cursor_, scan_pos_) is a full batch
  std::uint64_t pending_since_ = 0;
  std::uint64_t next_id_ = 1;
  std::uint64_t released_ = 0;
};

}  // namespace tg::upstream
