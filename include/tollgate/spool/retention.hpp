// SPDX-License-Identifier: Apache-2.0
// Pure rules over a directory's segments: which may be deleted once the
// acknowledged position has moved, and which sequence numbers a restarted
// writer continues from. No I/O, so the rules are tested exhaustively.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tg::spool {

struct segment_span {
  std::uint64_t segment_seq = 0;
  std::uint64_t first_seq = 0;  // of its first record (the header's first_seq)
  std::uint64_t last_seq = 0;   // of its last record; < first_seq when it holds none
  bool active = false;          // the writer's open segment: never deleted
};

// The segment_seqs whose every record is <= acked, in the order given. An
// empty segment that is not active holds nothing to lose and is deletable.
std::vector<std::uint64_t> deletable_segments(std::span<const segment_span> segments, std::uint64_t acked);

struct resume_point {
  std::uint64_t next_segment_seq = 1;
  std::uint64_t next_record_seq = 1;
};

// Where a writer restarted on a directory continues: past every segment and
// record it holds, and past `acked` too. The last rule matters once every
// segment is deleted: reusing a sequence number <= acked would mark new
// events as already delivered.
resume_point resume_after(std::span<const segment_span> segments, std::uint64_t acked);

}  // namespace tg::spool
