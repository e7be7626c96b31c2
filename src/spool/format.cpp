// SPDX-License-Identifier: Apache-2.0
// Segment header and record framing, both layouts. The scanner decides between
// "torn" and "corrupt" from the bytes alone: a crash can only cut the end off
// the last write (or leave zeros where the size grew but the data did not
// land), while anything else that fails a check is damage.
#include "tollgate/spool/format.hpp"

#include <algorithm>
#include <cstring>

#include "endian.hpp"
#include "tollgate/spool/crc32c.hpp"

namespace tg::spool {
namespace {

using detail::load;
using detail::store;

constexpr std::size_t header_crc_at = 20;  // version 2: the header CRC covers bytes [0, 20)

std::uint32_t record_crc_v1(std::uint64_t seq, std::span<const char> payload) noexcept {
  char s[8];
  store(s, seq);
  return crc32c(payload.data(), payload.size(), crc32c(s, sizeof s));
}

bool all_zero(std::span<const char> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

// Whether `rest` (shorter than a marker or not) starts like a marker does.
bool starts_like_marker(std::span<const char> rest) noexcept {
  char m[4], s[4];
  store(m, record_marker);
  store(s, skip_marker);
  const std::size_t n = std::min<std::size_t>(rest.size(), 4);
  return std::memcmp(rest.data(), m, n) == 0 || std::memcmp(rest.data(), s, n) == 0;
}

scan_result scan_v1(std::span<const char> rest, std::size_t offset, std::uint32_t max_payload) noexcept {
  scan_result r;
  if (rest.size() < record_header_bytes_v1) {
    r.kind = scan_kind::torn;
    return r;
  }
  const auto len = load<std::uint32_t>(rest.data());
  if (len == 0) {
    // Zeros to the end: the file grew but the data never reached the disk
    // (delayed allocation after a power cut). Nothing acknowledged can be
    // there, because a durable ack waits for the fdatasync that would have
    // stored it. Zeros followed by anything else are damage. Checked only
    // here, so a scan stays linear.
    r.kind = all_zero(rest) ? scan_kind::torn : scan_kind::corrupt;
    return r;
  }
  if (len > max_payload) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  const std::size_t need = record_footprint_v1(len);
  if (rest.size() < need) {
    r.kind = scan_kind::torn;
    return r;
  }
  const auto crc = load<std::uint32_t>(rest.data() + 4);
  const auto seq = load<std::uint64_t>(rest.data() + 8);
  const std::span<const char> payload = rest.subspan(record_header_bytes_v1, len);
  if (crc != record_crc_v1(seq, payload)) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  r.kind = scan_kind::record;
  r.seq = seq;
  r.payload = payload;
  r.next = offset + need;
  return r;
}

scan_result scan_v2(std::span<const char> rest, std::size_t offset, std::uint32_t max_payload) noexcept {
  scan_result r;
  if (rest.size() < record_header_bytes) {
    // The start of a header the crash cut, or zeros: torn. Anything else
    // cannot be the beginning of a record.
    r.kind = all_zero(rest) || starts_like_marker(rest) ? scan_kind::torn : scan_kind::corrupt;
    return r;
  }
  const auto marker = load<std::uint32_t>(rest.data());
  if (marker == 0) {
    r.kind = all_zero(rest) ? scan_kind::torn : scan_kind::corrupt;  // as in version 1
    return r;
  }
  if ((marker != record_marker && marker != skip_marker) ||
      load<std::uint32_t>(rest.data() + header_crc_at) != crc32c(rest.data(), header_crc_at)) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  const auto len = load<std::uint32_t>(rest.data() + 4);
  const auto seq = load<std::uint64_t>(rest.data() + 8);
  const auto crc = load<std::uint32_t>(rest.data() + 16);
  if (marker == skip_marker) {
    // A span that ends before its own header, or off the 8-byte grid, was
    // not written by recovery.
    if (len != 0 || crc != 0 || seq < record_header_bytes || seq % 8 != 0 || seq > (~std::uint64_t{0} >> 1)) {
      r.kind = scan_kind::corrupt;
      return r;
    }
    r.kind = scan_kind::skip;
    r.next = offset + seq;
    return r;
  }
  if (len == 0 || len > max_payload) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  const std::size_t need = record_footprint(len);
  if (rest.size() < need) {
    r.kind = scan_kind::torn;  // the header's CRC vouches for the length: the rest never landed
    return r;
  }
  const std::span<const char> payload = rest.subspan(record_header_bytes, len);
  if (crc != crc32c(payload.data(), payload.size())) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  r.kind = scan_kind::record;
  r.seq = seq;
  r.payload = payload;
  r.next = offset + need;
  return r;
}

}  // namespace

void encode_header(const segment_header& h, std::span<char, segment_header_bytes> out) noexcept {
  char* p = out.data();
  std::memcpy(p, segment_magic, 8);
  store(p + 8, h.version);
  store(p + 12, h.shard);
  store(p + 16, h.segment_seq);
  store(p + 24, h.first_seq);
  store(p + 32, std::uint32_t{0});
  store(p + 36, crc32c(p, 36));
}

header_status decode_header(std::span<const char> bytes, segment_header& out) noexcept {
  if (bytes.size() < segment_header_bytes) return header_status::short_file;
  const char* p = bytes.data();
  if (std::memcmp(p, segment_magic, 8) != 0) return header_status::bad_magic;
  if (load<std::uint32_t>(p + 36) != crc32c(p, 36)) return header_status::bad_crc;
  out.version = load<std::uint32_t>(p + 8);
  out.shard = load<std::uint32_t>(p + 12);
  out.segment_seq = load<std::uint64_t>(p + 16);
  out.first_seq = load<std::uint64_t>(p + 24);
  // Checked after the CRC: a newer version is deliberate, a damaged one is not.
  if (out.version < oldest_format_version || out.version > format_version) return header_status::bad_version;
  return header_status::ok;
}

std::size_t encode_record(std::span<char> out, std::uint64_t seq, std::span<const char> payload) noexcept {
  if (payload.empty() || payload.size() > max_payload_limit) return 0;
  const std::size_t need = record_footprint(payload.size());
  if (out.size() < need) return 0;
  char* p = out.data();
  store(p, record_marker);
  store(p + 4, static_cast<std::uint32_t>(payload.size()));
  store(p + 8, seq);
  store(p + 16, crc32c(payload.data(), payload.size()));
  store(p + header_crc_at, crc32c(p, header_crc_at));
  std::memcpy(p + record_header_bytes, payload.data(), payload.size());
  std::memset(p + record_header_bytes + payload.size(), 0, need - record_header_bytes - payload.size());
  return need;
}

std::size_t encode_record_v1(std::span<char> out, std::uint64_t seq, std::span<const char> payload) noexcept {
  if (payload.empty() || payload.size() > max_payload_limit) return 0;
  const std::size_t need = record_footprint_v1(payload.size());
  if (out.size() < need) return 0;
  char* p = out.data();
  store(p, static_cast<std::uint32_t>(payload.size()));
  store(p + 4, record_crc_v1(seq, payload));
  store(p + 8, seq);
  std::memcpy(p + record_header_bytes_v1, payload.data(), payload.size());
  std::memset(p + record_header_bytes_v1 + payload.size(), 0, need - record_header_bytes_v1 - payload.size());
  return need;
}

void encode_skip(std::span<char, record_header_bytes> out, std::uint64_t span) noexcept {
  char* p = out.data();
  store(p, skip_marker);
  store(p + 4, std::uint32_t{0});
  store(p + 8, span);
  store(p + 16, std::uint32_t{0});
  store(p + header_crc_at, crc32c(p, header_crc_at));
}

scan_result scan_record(std::span<const char> bytes, std::size_t offset, std::uint32_t max_payload,
                        std::uint32_t version) noexcept {
  scan_result r;
  if (offset >= bytes.size()) {
    r.kind = offset == bytes.size() ? scan_kind::end : scan_kind::corrupt;
    return r;
  }
  const std::uint32_t bound = std::min(max_payload, max_payload_limit);
  const std::span<const char> rest = bytes.subspan(offset);
  return version == 1 ? scan_v1(rest, offset, bound) : scan_v2(rest, offset, bound);
}

std::uint32_t record_version_at(std::span<const char> bytes, std::size_t offset) noexcept {
  if (offset >= bytes.size()) return format_version;
  const std::span<const char> rest = bytes.subspan(offset);
  // Zeros read the same in both layouts (torn, or damage when more follows).
  if (rest[0] == 0) return 1;
  return starts_like_marker(rest) ? 2 : 1;
}

}  // namespace tg::spool
