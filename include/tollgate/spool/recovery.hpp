// SPDX-License-Identifier: Apache-2.0
// Start-up recovery of one segment: find its valid records, cut a torn tail,
// and move damaged bytes aside into `<name>.corrupt` so replay delivers every
// other record. scan_segment() is the pure part (bytes in, verdict out);
// recover_segment() reads the file in bounded chunks and acts on the verdict.
// Both run at start, before the shard serves requests.
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
  clean,    // every byte is a valid record, a skip record or the header
  torn,     // an unfinished last write: the file is cut back to valid_end
  corrupt,  // damaged bytes: copied to <name>.corrupt, then skipped or cut off
};

// Where a recovered record lies, so replay can read it back with one pread.
struct record_ref {
  std::uint64_t offset = 0;  // of the record header in the file
  std::uint64_t seq = 0;
  std::uint32_t length = 0;  // payload bytes; the payload follows the record header
};

// Sequence numbers [first, first + count) that no kept record carries.
struct seq_gap {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};

struct byte_range {
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  std::uint64_t end() const noexcept { return offset + bytes; }
};

// A named bound on the damage one segment may record: past it, the rest of the
// segment is one damaged range (quarantined whole, records in it included).
inline constexpr std::size_t max_damaged_ranges = 1024;

struct segment_report {
  outcome result = outcome::clean;
  std::optional<segment_header> header;  // empty when the header never reached the disk or is damaged
  std::vector<record_ref> records;       // empty unless recover_options::keep_records
  std::uint64_t record_count = 0;
  std::uint64_t first_record_seq = 0;    // 0 without records
  std::uint64_t last_record_seq = 0;
  // Damaged ranges, in file order, all copied to .corrupt. A range that ends
  // at file_bytes is cut off (valid_end is its offset); every other one is
  // followed by a valid record and is overwritten with a skip record.
  std::vector<byte_range> damaged;
  std::uint64_t missing_seqs = 0;      // sequence numbers absent between records kept (lost to damage)
  std::vector<seq_gap> gaps;           // where they are (one per damaged range at most)
  std::uint64_t valid_end = 0;         // bytes kept (0 without a valid header)
  std::uint64_t file_bytes = 0;        // size before recovery
  std::uint64_t torn_bytes = 0;        // cut off as an unfinished write (no copy)
  std::uint64_t quarantined_bytes = 0; // sum of `damaged` (the whole file without a valid header)
  std::uint64_t cut_bytes = 0;         // torn: torn_bytes; corrupt: quarantined_bytes
  std::uint64_t resume_offset = 0;     // of the first record with seq > recover_options::acked (0: none)
  std::uint64_t first_seq() const noexcept { return first_record_seq; }
  std::uint64_t last_seq() const noexcept { return last_record_seq; }
};

struct recover_options {
  std::uint32_t max_payload = max_payload_limit;
  // Only the newest segment of a directory can have been cut by a crash; an
  // incomplete record in an older one (closed at rollover) is damage, so it
  // is quarantined rather than silently truncated.
  bool last_segment = true;
  // Whether the report lists every record (tests, tools). Off, recovery's
  // memory does not grow with the segment.
  bool keep_records = true;
  std::uint64_t acked = 0;  // for resume_offset
};

// The verdict on a segment's bytes; does no I/O. Records carry increasing
// sequence numbers starting at the header's first_seq, consecutive except
// across damage (the writer guarantees it), so a valid-looking record from
// elsewhere counts as damage. In a version-2 segment the scan resumes at the
// next valid record after damage; in a version-1 segment (no markers) the
// damage runs to the end, as it always did. A header of a newer format gives
// errc::unsupported_version.
result<segment_report, error> scan_segment(std::span<const char> bytes, const recover_options& opts = {});

// Reads the segment at `path` in bounded chunks (holes are skipped, never
// read), scans it and makes the file match the verdict, in an order that is
// safe to interrupt:
//   1. damaged ranges are copied to `<path>.corrupt` at their offsets in the
//      segment (a sparse file: zero blocks and everything else are holes),
//      which is fsync'd, then the directory;
//   2. each damaged range followed by a valid record is overwritten with a
//      skip record; a damaged or torn tail is truncated; fdatasync.
// A rerun after a crash finds the same copy and keeps it; a different earlier
// copy is kept as well (the new one goes to `.corrupt.1`, `.2`, ...).
// A segment without a valid header is renamed to `<path>.corrupt[.N]` whole
// (no copy, whatever its size) and the report says valid_end 0; one whose
// header never fully landed is cut to empty. Either way the caller deletes it.
// unsupported_version leaves the file untouched.
result<segment_report, error> recover_segment(const std::string& path, const recover_options& opts = {});

}  // namespace tg::spool
