// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the spool scanner and recovery's verdict
// (scan_segment): any bytes as a segment. It must never read out of bounds
// (ASan), never report a record whose CRCs fail, every record it reports must
// re-encode to the same header and payload bytes, its damaged ranges must tile what it did not
// keep, and applying the verdict (skip records over interior damage, the cut)
// must give a segment that scans clean with the same records, record by
// record as the replay reader walks it.
//
// Input: byte 0 chooses the options (bit 0: last segment; bit 1: a 4 KiB
// payload bound instead of the format's; bits 2-3: 1 or 2 = prepend a valid
// version-1 or version-2 header whose first_seq is bytes 1-2, so the fuzzer
// reaches the records without having to find a CRC); the rest is the segment.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "tollgate/spool/format.hpp"
#include "tollgate/spool/recovery.hpp"

using namespace tg::spool;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "spool_scan_fuzz: check failed: %s\n", what);
  std::abort();
}
#define CHECK(c) \
  do {           \
    if (!(c)) fail(#c); \
  } while (0)

void check_report(std::span<const char> bytes, const recover_options& o, const segment_report& rep) {
  CHECK(rep.file_bytes == bytes.size());
  CHECK(rep.valid_end <= bytes.size());
  CHECK(rep.record_count == rep.records.size());
  std::uint64_t quarantined = 0;
  for (const byte_range& d : rep.damaged) quarantined += d.bytes;
  CHECK(quarantined == rep.quarantined_bytes);
  if (!rep.header) {
    CHECK(rep.records.empty());
    CHECK(rep.valid_end == 0);
    return;
  }
  const std::uint32_t version = rep.header->version;
  const std::uint32_t maxp = std::min(o.max_payload, max_payload_limit);
  // Records and damaged ranges, in file order, tile [40, valid_end) with skip
  // records (already in the file) between them.
  std::uint64_t prev_seq = 0;
  bool first = true;
  std::size_t di = 0;
  for (const record_ref& r : rep.records) {
    CHECK(r.offset % 8 == 0 && r.offset >= segment_header_bytes);
    const std::size_t fp = version == 1 ? record_footprint_v1(r.length) : record_footprint(r.length);
    CHECK(r.offset + fp <= rep.valid_end);
    CHECK(first ? r.seq >= rep.header->first_seq : r.seq > prev_seq);
    while (di < rep.damaged.size() && rep.damaged[di].end() <= r.offset) ++di;
    CHECK(di == rep.damaged.size() || rep.damaged[di].offset >= r.offset + fp);  // no overlap
    const scan_result s = scan_record(bytes, static_cast<std::size_t>(r.offset), maxp, version);
    CHECK(s.kind == scan_kind::record);  // its CRCs pass
    CHECK(s.seq == r.seq && s.payload.size() == r.length && s.next == r.offset + fp);
    std::vector<char> again(fp);
    const std::size_t n = version == 1 ? encode_record_v1(again, r.seq, s.payload) : encode_record(again, r.seq, s.payload);
    CHECK(n == fp);
    // Round trip: header and payload (no CRC covers the padding, so damage
    // there costs nothing and is not looked at).
    const std::size_t covered = fp - (fp - (version == 1 ? record_header_bytes_v1 : record_header_bytes) - r.length);
    CHECK(std::memcmp(again.data(), bytes.data() + r.offset, covered) == 0);
    prev_seq = r.seq;
    first = false;
  }
  std::uint64_t end = segment_header_bytes;
  for (const byte_range& d : rep.damaged) {
    CHECK(d.offset >= end && d.offset % 8 == 0 && d.bytes > 0 && d.end() <= bytes.size());
    CHECK(d.end() == bytes.size() || d.bytes >= record_header_bytes);  // room for a skip record
    CHECK(version == 2 || d.end() == bytes.size());                    // version 1: only a tail
    end = d.end();
  }
  if (rep.result == outcome::clean) CHECK(rep.damaged.empty() && rep.valid_end == bytes.size());
  if (rep.result == outcome::torn) CHECK(rep.damaged.empty() && o.last_segment);
  if (rep.torn_bytes > 0) CHECK(rep.valid_end + rep.torn_bytes == bytes.size());
}

// What recover_segment does to the file, in memory.
std::vector<char> apply(std::span<const char> bytes, const segment_report& rep) {
  std::vector<char> out(bytes.begin(), bytes.end());
  for (const byte_range& d : rep.damaged) {
    if (d.end() >= bytes.size()) continue;
    encode_skip(std::span<char, record_header_bytes>(out.data() + d.offset, record_header_bytes), d.bytes);
  }
  out.resize(static_cast<std::size_t>(rep.valid_end));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  recover_options o;
  o.last_segment = (flags & 1) != 0;
  o.max_payload = (flags & 2) != 0 ? 4096 : max_payload_limit;
  std::vector<char> bytes;
  const std::uint32_t hv = (flags >> 2) & 3;
  if (hv == 1 || hv == 2) {
    const std::uint64_t first = size >= 3 ? 1 + (data[1] | (data[2] << 8)) : 1;
    bytes.resize(segment_header_bytes);
    encode_header({hv, 0, 1, first}, std::span<char, segment_header_bytes>(bytes.data(), segment_header_bytes));
  }
  bytes.insert(bytes.end(), reinterpret_cast<const char*>(data) + 1, reinterpret_cast<const char*>(data) + size);

  auto rep = scan_segment(bytes, o);
  if (!rep) {
    CHECK(rep.error().code == errc::unsupported_version);
    segment_header h;
    CHECK(decode_header(bytes, h) == header_status::bad_version);
    return 0;
  }
  check_report(bytes, o, *rep);
  if (!rep->header) return 0;

  // Recovered once, the segment scans clean with the same records, and the
  // replay reader's walk (the layout told from each record's first bytes,
  // skip records stepped over) finds exactly them.
  const std::vector<char> fixed = apply(bytes, *rep);
  auto again = scan_segment(fixed, o);
  CHECK(again);
  CHECK(again->result == outcome::clean);
  CHECK(again->records.size() == rep->records.size());
  for (std::size_t i = 0; i < rep->records.size(); ++i) {
    CHECK(again->records[i].offset == rep->records[i].offset);
    CHECK(again->records[i].seq == rep->records[i].seq);
  }
  CHECK(again->missing_seqs == 0);
  std::size_t off = segment_header_bytes, i = 0;
  while (off < fixed.size()) {
    const scan_result r = scan_record(fixed, off, std::min(o.max_payload, max_payload_limit), record_version_at(fixed, off));
    if (r.kind == scan_kind::skip) {
      CHECK(r.next > off);
      off = static_cast<std::size_t>(r.next);
      continue;
    }
    CHECK(r.kind == scan_kind::record);
    CHECK(i < rep->records.size() && rep->records[i].offset == off && rep->records[i].seq == r.seq);
    ++i;
    off = static_cast<std::size_t>(r.next);
  }
  CHECK(off == fixed.size() && i == rep->records.size());
  return 0;
}
