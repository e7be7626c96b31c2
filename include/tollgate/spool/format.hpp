// SPDX-License-Identifier: Apache-2.0
// The on-disk format of a spool segment, as pure functions over bytes (no
// I/O), so recovery can be tested on any byte pattern and the shard can encode
// straight into its write buffer.
//
// segment = header (40 bytes) then records, every one 8-byte aligned:
//   header: "TGSPOOL1" | u32 version | u32 shard | u64 segment seq |
//           u64 first record seq | u32 reserved (0) | u32 crc32c(bytes 0..36)
//   record: u32 payload length | u32 crc32c(seq bytes + payload) | u64 seq |
//           payload | zero padding to a multiple of 8
// All integers little-endian. Length 0 never occurs in a record, so a run of
// zero bytes reads as "nothing was written here".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace tg::spool {

inline constexpr char segment_magic[8] = {'T', 'G', 'S', 'P', 'O', 'O', 'L', '1'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t segment_header_bytes = 40;
inline constexpr std::size_t record_header_bytes = 16;
// The format's own ceiling on one payload; options may set a lower one. It
// bounds how far a corrupted length can send the scanner.
inline constexpr std::uint32_t max_payload_limit = 64u << 20;

struct segment_header {
  std::uint32_t version = format_version;
  std::uint32_t shard = 0;
  std::uint64_t segment_seq = 0;  // the number in the file name
  std::uint64_t first_seq = 0;    // sequence number the first record will carry
};

// Bytes a record with an n-byte payload takes in a segment.
constexpr std::size_t record_footprint(std::size_t n) noexcept {
  return record_header_bytes + ((n + 7) & ~std::size_t{7});
}

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

// Encodes one record at the start of out; returns the bytes used
// (record_footprint(payload.size())), or 0 if out is too small or the payload
// is empty or over max_payload_limit. Padding bytes are zeroed.
std::size_t encode_record(std::span<char> out, std::uint64_t seq, std::span<const char> payload) noexcept;

// What the bytes at one offset of a segment hold.
enum class scan_kind : std::uint8_t {
  record,   // a complete record whose CRC matches
  end,      // offset is exactly the end of the bytes
  torn,     // the last write was cut short: fewer bytes than the record needs,
            // or nothing but zeros from here on. Truncate here.
  corrupt,  // a complete record that fails its CRC, an impossible length, or
            // non-zero bytes where a record should start. Quarantine from here.
};

struct scan_result {
  scan_kind kind = scan_kind::end;
  std::uint64_t seq = 0;              // record only
  std::span<const char> payload;      // record only: a view into the scanned bytes
  std::size_t next = 0;               // record only: offset of the next record
};

// Reads the record at `offset` (8-aligned, <= bytes.size()). Never reads
// outside `bytes` and never allocates, whatever they hold; lengths above
// max_payload (capped at max_payload_limit) are corrupt, not a reason to wait
// for more bytes.
scan_result scan_record(std::span<const char> bytes, std::size_t offset,
                        std::uint32_t max_payload = max_payload_limit) noexcept;

}  // namespace tg::spool
