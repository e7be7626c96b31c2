// SPDX-License-Identifier: Apache-2.0
// Start-up recovery of one segment: find where its valid records end, cut a
// torn tail, and move a damaged remainder aside into `<name>.corrupt` so replay
// carries on with the next segment. scan_segment() is the pure part (bytes in,
// verdict out); recover_segment() reads the file and acts on the verdict. Both
// run on the shard's thread at start, before it serves requests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"
#include "tollgate/spool/format.hpp"

namespace tg::spool {

enum class outcome : std::uint8_t {
  clean,    // every byte is a valid record (or the header)
  torn,     // an unfinished last write: the file is cut back to valid_end
  corrupt,  // damage before the end: bytes from valid_end on go to <name>.corrupt
};

// Where a recovered record lies, so replay can read it back with one pread.
struct record_ref {
  std::uint64_t offset = 0;  // of the record header in the file
  std::uint64_t seq = 0;
  std::uint32_t length = 0;  // payload bytes; the payload starts at offset + 16
};

struct segment_report {
  outcome result = outcome::clean;
  std::optional<segment_header> header;  // empty when the header never reached the disk or is damaged
  std::vector<record_ref> records;
  std::uint64_t valid_end = 0;    // bytes worth keeping (0 without a valid header)
  std::uint64_t file_bytes = 0;   // size before recovery
  std::uint64_t cut_bytes = 0;    // torn: bytes truncated; corrupt: bytes quarantined
  std::uint64_t first_seq() const noexcept { return records.empty() ? 0 : records.front().seq; }
  std::uint64_t last_seq() const noexcept { return records.empty() ? 0 : records.back().seq; }
};

struct recover_options {
  std::uint32_t max_payload = max_payload_limit;
  // Only the newest segment of a directory can have been cut by a crash; an
  // incomplete record in an older one (closed at rollover) is damage, so it
  // is quarantined rather than silently truncated.
  bool last_segment = true;
};

// The verdict on a segment's bytes; does no I/O. Records must carry
// consecutive sequence numbers starting at the header's first_seq (the writer
// guarantees it), so a valid-looking record from elsewhere counts as damage.
// A header of a newer format gives errc::unsupported_version.
result<segment_report, error> scan_segment(std::span<const char> bytes, const recover_options& opts = {});

// Reads the segment at `path`, scans it and makes the file match the verdict:
//   torn    -> ftruncate to valid_end, fdatasync;
//   corrupt -> copy [valid_end, end) to `<path>.corrupt` and fsync it, fsync
//              the directory, then truncate the segment to valid_end and
//              fdatasync. The copy comes first so a crash during recovery
//              never loses the damaged bytes; a rerun finds the same copy and
//              keeps it, a different earlier copy is kept as well (the new
//              one goes to `<path>.corrupt.1`, `.2`, ...).
// A segment with no valid header ends up empty (valid_end 0): the caller
// deletes it. unsupported_version leaves the file untouched.
result<segment_report, error> recover_segment(const std::string& path, const recover_options& opts = {});

}  // namespace tg::spool
