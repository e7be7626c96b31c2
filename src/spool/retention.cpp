// SPDX-License-Identifier: Apache-2.0
// Deletion and resume rules over a directory's segments (pure).
#include "tollgate/spool/retention.hpp"

#include <algorithm>

namespace tg::spool {

std::vector<std::uint64_t> deletable_segments(std::span<const segment_span> segments, std::uint64_t acked) {
  std::vector<std::uint64_t> out;
  for (const segment_span& s : segments) {
    if (s.active) continue;
    const bool empty = s.last_seq < s.first_seq;
    if (empty || s.last_seq <= acked) out.push_back(s.segment_seq);
  }
  return out;
}

resume_point resume_after(std::span<const segment_span> segments, std::uint64_t acked) {
  resume_point p;
  std::uint64_t last_record = acked;
  for (const segment_span& s : segments) {
    p.next_segment_seq = std::max(p.next_segment_seq, s.segment_seq + 1);
    // An empty segment still reserved the sequence numbers before its first_seq.
    const std::uint64_t reserved = s.first_seq > 0 ? s.first_seq - 1 : 0;
    last_record = std::max({last_record, s.last_seq, reserved});
  }
  p.next_record_seq = last_record + 1;
  return p;
}

}  // namespace tg::spool
