// SPDX-License-Identifier: Apache-2.0
// The bounded record of refused ring ranges.
#include "tollgate/output/http/rejection_log.hpp"

#include <algorithm>
#include <cstring>

namespace tg::upstream {
namespace {
bool overlaps(std::uint64_t b1, std::uint64_t e1, std::uint64_t b2, std::uint64_t e2) noexcept {
  return b1 < e2 && b2 < e1;
}
}  // namespace

void rejection_log::add(std::uint64_t begin, std::uint64_t end, std::uint64_t events, int status,
                        std::string_view detail) noexcept {
  if (count_ == capacity) {
    const entry& old = entries_[0];
    lost_begin_ = lost_ ? std::min(lost_begin_, old.begin) : old.begin;
    lost_end_ = lost_ ? std::max(lost_end_, old.end) : old.end;
    lost_ = true;
    std::move(entries_.begin() + 1, entries_.end(), entries_.begin());
    --count_;
  }
  entry& e = entries_[count_++];
  e.begin = begin;
  e.end = end;
  e.events = events;
  e.status = status;
  e.detail_len = std::min(detail.size(), max_detail);
  std::memcpy(e.detail, detail.data(), e.detail_len);
}

void rejection_log::prune(std::uint64_t read_begin) noexcept {
  const std::uint64_t mark = released_mark_;
  released_mark_ = read_begin;
  if (count_ == 0 && !lost_) return;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    if (entries_[i].end <= mark) continue;
    if (keep != i) entries_[keep] = entries_[i];
    ++keep;
  }
  count_ = keep;
  if (lost_ && lost_end_ <= mark) lost_ = false;
}

std::optional<output::rejection> rejection_log::find(std::uint64_t begin, std::uint64_t end) const noexcept {
  std::optional<output::rejection> r;
  for (std::size_t i = 0; i < count_; ++i) {
    const entry& e = entries_[i];
    if (!overlaps(begin, end, e.begin, e.end)) continue;
    if (!r) r = output::rejection{e.status, {e.detail, e.detail_len}, 0};
    r->events += e.events;
  }
  // A known answer is the better one to name; without one, the lost ranges
  // still say "refused" (events unknown: 0).
  if (!r && lost_ && overlaps(begin, end, lost_begin_, lost_end_)) {
    r = output::rejection{0, "too many refusals at once to keep each one's answer", 0};
  }
  return r;
}

void rejection_log::each(std::uint64_t begin, std::uint64_t end, const output::shard_output::refused_run& f) const {
  for (std::size_t i = 0; i < count_; ++i) {
    const entry& e = entries_[i];
    if (overlaps(begin, end, e.begin, e.end)) f(e.begin, e.end, e.status, {e.detail, e.detail_len});
  }
  if (lost_ && overlaps(begin, end, lost_begin_, lost_end_)) {
    f(lost_begin_, lost_end_, 0, "too many refusals at once to keep each one's answer");
  }
}

}  // namespace tg::upstream
