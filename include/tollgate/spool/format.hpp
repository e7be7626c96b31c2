// SPDX-License-Identifier: Apache-2.0
// The on-disk format of a spool segment, as pure functions over bytes (no
// I/O), so recovery can be tested on any byte pattern and the shard can encode
// straight into its write buffer.
//
// segment = header (40 bytes) then records, every one 8-byte aligned:
//   header: "TGSPOOL1" | u32 version | u32 shard | u64 segment seq |
//           u64 first record seq | u32 reserved (0) | u32 crc32c(bytes 0..36)
// version 2 (written by this build):
//   record: u32 sync marker "\xF9TGR" | u32 payload length | u64 seq |
//           u32 crc32c(payload) | u32 crc32c(bytes 0..20) | payload | zero padding to 8
//   skip:   u32 marker "\xF9TGS" | u32 0 | u64 bytes it spans (from its first byte) |
//           u32 0 | u32 crc32c(bytes 0..20) | the rest of the span, not read
// version 1 (read, no longer written):
//   record: u32 payload length | u32 crc32c(seq bytes + payload) | u64 seq |
//           payload | zero padding to 8
// All integers little-endian. The marker lets a scanner find the next record
// after damage; its first byte never occurs in UTF-8 (so not in an event's
// JSON), and read as a version-1 length it is above max_payload_limit, so the
// two layouts cannot be mistaken for each other. The header CRC covers the
// length, so a damaged length is damage, never a reason to wait for bytes.
// A skip record is what recovery writes over a damaged range once the range
// is copied to `.corrupt`. Length 0 never occurs in a record, so a run of
// zero bytes reads as "nothing was written here".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace tg::spool {

inline constexpr char segment_magic[8] = {'T', 'G', 'S', 'P', 'O', 'O', 'L', '1'};
inline constexpr std::uint32_t format_version = 2;        // what this build writes
inline constexpr std::uint32_t oldest_format_version = 1;  // the oldest it still reads
inline constexpr std::size_t segment_header_bytes = 40;
inline constexpr std::size_t record_header_bytes = 24;     // version 2
inline constexpr std::size_t record_header_bytes_v1 = 16;
inline constexpr std::uint32_t record_marker = 0x524754F9;  // "\xF9TGR" little-endian
inline constexpr std::uint32_t skip_marker = 0x534754F9;    // "\xF9TGS"
// The format's own ceiling on one payload; options may set a lower one. It
// bounds how far a corrupted length can send the scanner.
inline constexpr std::uint32_t max_payload_limit = 64u << 20;
static_assert(record_marker > max_payload_limit && skip_marker > max_payload_limit);

struct segment_header {
  std::uint32_t version = format_version;
  std::uint32_t shard = 0;
  std::uint64_t segment_seq = 0;  // the number in the file name
  std::uint64_t first_seq = 0;    // sequence number the first record will carry
};

// Bytes a record with an n-byte payload takes in a segment (version 2).
constexpr std::size_t record_footprint(std::size_t n) noexcept {
  return record_header_bytes + ((n + 7) & ~std::size_t{7});
}
constexpr std::size_t record_footprint_v1(std::size_t n) noexcept {
  return record_header_bytes_v1 + ((n + 7) & ~std::size_t{7});
}
// The smallest record: one payload byte.
inline constexpr std::size_t min_record_footprint = record_footprint(1);

// Writes the 40-byte header into out (which must hold segment_header_bytes).
void encode_header(const segment_header& h, std::span<char, segment_header_bytes> out) noexcept;

enum class header_status : std::uint8_t {
  ok,
  short_file,   // fewer than 40 bytes: the segment was created, nothing reached it
  bad_magic,    // not a spool segment, or its first bytes are damaged
  bad_crc,      // magic fine, the rest damaged
  bad_version,  // a format this build does not read (newer): leave the file alone
};
header_status decode_header(std::span<const char> bytes, segment_header& out) noexcept;

// Encodes one version-2 record at the start of out; returns the bytes used
// (record_footprint(payload.size())), or 0 if out is too small or the payload
// is empty or over max_payload_limit. Padding bytes are zeroed.
std::size_t encode_record(std::span<char> out, std::uint64_t seq, std::span<const char> payload) noexcept;
// The same in the version-1 layout, which this build reads but never writes:
// for the tests and benchmarks that must produce old segments.
std::size_t encode_record_v1(std::span<char> out, std::uint64_t seq, std::span<const char> payload) noexcept;
// Writes a skip record's header (record_header_bytes) spanning `span` bytes
// (a multiple of 8, at least record_header_bytes) at the start of out.
void encode_skip(std::span<char, record_header_bytes> out, std::uint64_t span) noexcept;

// What the bytes at one offset of a segment hold.
enum class scan_kind : std::uint8_t {
  record,   // a complete record whose CRCs match
  skip,     // a skip record (version 2): `next` is past its span, which may
            // end beyond the bytes given (the caller checks it against the file)
  end,      // offset is exactly the end of the bytes
  torn,     // the last write was cut short: fewer bytes than the record needs
            // (its header intact, or only the start of one), or nothing but
            // zeros from here on. Truncate here.
  corrupt,  // a record that fails a CRC, an impossible length, or non-zero
            // bytes where a record should start. Quarantine from here.
};

struct scan_result {
  scan_kind kind = scan_kind::end;
  std::uint64_t seq = 0;              // record only
  std::span<const char> payload;      // record only: a view into the scanned bytes
  std::uint64_t next = 0;             // record and skip: offset of what follows
};

// Reads the record at `offset` (8-aligned, <= bytes.size()) in the layout of
// `version`. Never reads outside `bytes` and never allocates, whatever they
// hold; lengths above max_payload (capped at max_payload_limit) are corrupt,
// not a reason to wait for more bytes.
scan_result scan_record(std::span<const char> bytes, std::size_t offset, std::uint32_t max_payload = max_payload_limit,
                        std::uint32_t version = format_version) noexcept;

// The layout of the record at `offset`, from its first bytes: 2 when they are
// (the start of) a marker, 1 otherwise. For readers of segments that recovery
// has already checked, which need not know the header's version.
std::uint32_t record_version_at(std::span<const char> bytes, std::size_t offset) noexcept;

}  // namespace tg::spool
