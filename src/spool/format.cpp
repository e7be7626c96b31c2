// SPDX-License-Identifier: Apache-2.0
// Segment header and record framing. The scanner decides between "torn" and
// "corrupt" from the bytes alone: a crash can only cut the end off the last
// write (or leave zeros where the size grew but the data did not land), while
// anything else that fails a check is damage.
#include "tollgate/spool/format.hpp"

#include <algorithm>
#include <cstring>

#include "endian.hpp"
#include "tollgate/spool/crc32c.hpp"

namespace tg::spool {
namespace {

using detail::load;
using detail::store;

std::uint32_t record_crc(std::uint64_t seq, std::span<const char> payload) noexcept {
  char s[8];
  store(s, seq);
  return crc32c(payload.data(), payload.size(), crc32c(s, sizeof s));
}

bool all_zero(std::span<const char> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
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
  if (out.version != format_version) return header_status::bad_version;
  return header_status::ok;
}

std::size_t encode_record(std::span<char> out, std::uint64_t seq, std::span<const char> payload) noexcept {
  if (payload.empty() || payload.size() > max_payload_limit) return 0;
  const std::size_t need = record_footprint(payload.size());
  if (out.size() < need) return 0;
  char* p = out.data();
  store(p, static_cast<std::uint32_t>(payload.size()));
  store(p + 4, record_crc(seq, payload));
  store(p + 8, seq);
  std::memcpy(p + record_header_bytes, payload.data(), payload.size());
  std::memset(p + record_header_bytes + payload.size(), 0, need - record_header_bytes - payload.size());
  return need;
}

scan_result scan_record(std::span<const char> bytes, std::size_t offset, std::uint32_t max_payload) noexcept {
  scan_result r;
  if (offset >= bytes.size()) {
    r.kind = offset == bytes.size() ? scan_kind::end : scan_kind::corrupt;
    return r;
  }
  const std::span<const char> rest = bytes.subspan(offset);
  if (rest.size() < record_header_bytes) {
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
  if (len > std::min(max_payload, max_payload_limit)) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  const std::size_t need = record_footprint(len);
  if (rest.size() < need) {
    r.kind = scan_kind::torn;
    return r;
  }
  const auto crc = load<std::uint32_t>(rest.data() + 4);
  const auto seq = load<std::uint64_t>(rest.data() + 8);
  const std::span<const char> payload = rest.subspan(record_header_bytes, len);
  if (crc != record_crc(seq, payload)) {
    r.kind = scan_kind::corrupt;
    return r;
  }
  r.kind = scan_kind::record;
  r.seq = seq;
  r.payload = payload;
  r.next = offset + need;
  return r;
}

}  // namespace tg::spool
