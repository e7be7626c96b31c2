// SPDX-License-Identifier: Apache-2.0
// Cutting, splitting and releasing batches in ring order.
#include "tollgate/output/http/batch_queue.hpp"

#include <cstdint>

namespace tg::upstream {
namespace {
// Under load the ring holds tens of MiB and its oldest records, the ones cut
// next, have left the caches. Records lie one after the other, so each
// record measured asks for the lines of the stretch this far ahead that it
// stands for: every line of the stream is asked for once, in time for both
// the header chase of the scan and the send (a gather write straight from
// the ring) that follows the cut.
constexpr std::size_t prefetch_ahead = 8192;
constexpr std::uintptr_t line = 64;

void prefetch_stretch(const char* from, std::size_t n) noexcept {
  auto p = reinterpret_cast<std::uintptr_t>(from) & ~(line - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(from) + n;
  for (; p < end; p += line) __builtin_prefetch(reinterpret_cast<const char*>(p));
}
}  // namespace

batch_queue::batch_queue(ring::event_ring& events, const batch_limits& limits)
    : events_(events), lim_(limits), cursor_(events.read_begin()), scan_pos_(cursor_) {}

bool batch_queue::can_cut() const {
  std::size_t busy = 0;
  for (const batch& b : batches_) {
    if (b.st == batch::state::queued) return false;
    if (b.st == batch::state::inflight) ++busy;
  }
  return busy < lim_.max_in_flight;
}

batch* batch_queue::cut(std::uint64_t now) {
  if (!can_cut()) return nullptr;
  ring::event_ring::record rec;
  while (!scan_full_ && events_.read(scan_pos_, rec)) {
    prefetch_stretch(rec.bytes.data() + prefetch_ahead, rec.next - scan_pos_);
    const std::size_t add = rec.bytes.size() + (scan_n_ > 0 ? 1 : 0);
    if (scan_n_ > 0 && scan_bytes_ + add > lim_.max_bytes) {
      scan_full_ = true;
      break;
    }
    scan_bytes_ += add;
    scan_pos_ = rec.next;
    if (++scan_n_ == lim_.max_events) scan_full_ = true;
  }
  if (scan_n_ == 0) {
    pending_since_ = 0;
    return nullptr;
  }
  if (pending_since_ == 0) pending_since_ = now;
  if (!scan_full_ && now - pending_since_ < lim_.linger_ms) return nullptr;
  batches_.push_back({next_id_++, cursor_, scan_pos_, scan_n_, scan_bytes_, batch::state::queued, 0, 0});
  cursor_ = scan_pos_;
  scan_n_ = 0;
  scan_bytes_ = 2;
  scan_full_ = false;
  pending_since_ = events_.read(cursor_, rec) ? now : 0;
  return &batches_.back();
}

batch* batch_queue::find(std::uint64_t id) {
  for (batch& b : batches_) {
    if (b.id == id) return &b;
  }
  return nullptr;
}

void batch_queue::split(batch& b, std::uint64_t now) {
  const std::uint32_t half = b.events / 2;
  ring::event_ring::record rec;
  std::uint64_t mid = b.begin;
  for (std::uint32_t i = 0; i < half && events_.read(mid, rec); ++i) mid = rec.next;
  batch second{next_id_++, mid, b.end, b.events - half, 0, batch::state::queued, now, 0};
  b.end = mid;
  b.events = half;
  b.body_bytes = 0;
  b.st = batch::state::queued;
  b.not_before = now;
  for (auto it = batches_.begin(); it != batches_.end(); ++it) {
    if (it->id == b.id) {
      batches_.insert(it + 1, second);
      break;
    }
  }
}

std::uint64_t batch_queue::release_done() {
  std::uint64_t n = 0;
  while (!batches_.empty() && batches_.front().st == batch::state::done) {
    events_.release(batches_.front().end);
    n += batches_.front().events;
    batches_.pop_front();
  }
  released_ += n;
  return n;
}

}  // namespace tg::upstream
