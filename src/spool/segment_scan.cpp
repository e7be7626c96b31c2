// SPDX-License-Identifier: Apache-2.0
// The verdict on one segment's bytes: which records are valid, which ranges
// are damaged, where a torn tail starts. Works through bounded views of a
// byte_source, so a segment of any size costs the largest record's worth of
// memory. After damage in a version-2 segment it resyncs on the record
// marker: the next 8-aligned offset holding a record whose CRCs match and
// whose sequence number fits.
#include <algorithm>
#include <cstring>

#include "byte_source.hpp"
#include "endian.hpp"
#include "tollgate/spool/crc32c.hpp"

namespace tg::spool {
namespace detail {
namespace {

constexpr std::size_t scan_chunk = 1u << 20;  // bytes per view while looking for zeros or a marker

class scanner {
 public:
  scanner(byte_source& src, const recover_options& o, segment_report& rep, const segment_header& h)
      : src_(src),
        o_(o),
        rep_(rep),
        version_(h.version),
        maxp_(std::min(o.max_payload, max_payload_limit)),
        size_(src.size()),
        first_seq_(h.first_seq),
        expect_(h.first_seq),
        // CRC work a resync may spend on candidates that turn out not to be
        // records: a few passes over the file. Only a crafted file (a valid
        // header CRC at every offset) gets near it; past it the rest of the
        // segment is one damaged range.
        budget_(4 * size_ + (64u << 20)) {}

  result<bool, error> run() {
    std::uint64_t off = segment_header_bytes;
    for (;;) {
      if (off >= size_) return finish_clean(off);
      auto z = zero_word(off);
      if (!z) return unexpected<error>{z.error()};
      if (*z) {
        auto zend = zero_end(off);
        if (!zend) return unexpected<error>{zend.error()};
        if (*zend >= size_) return finish_torn(off);  // zeros to the end: the size grew, the data never landed
        auto next = damage(off, *zend);
        if (!next) return unexpected<error>{next.error()};
        if (*next == 0) return true;
        off = *next;
        continue;
      }
      auto r = scan_at(off);
      if (!r) return unexpected<error>{r.error()};
      if (r->kind == scan_kind::record && acceptable(r->seq, off)) {
        keep(off, *r);
        off = r->next;
        continue;
      }
      if (r->kind == scan_kind::skip && r->next <= size_) {
        gap_ok_ = true;  // an earlier recovery skipped damage here: the numbering may jump
        off = r->next;
        continue;
      }
      if (r->kind == scan_kind::torn) {
        auto damaged = version_ == 1 && o_.last_segment ? v1_tail_is_damage(off) : result<bool, error>{false};
        if (!damaged) return unexpected<error>{damaged.error()};
        if (!*damaged) return finish_torn(off);
      }
      auto next = damage(off, off);
      if (!next) return unexpected<error>{next.error()};
      if (*next == 0) return true;
      off = *next;
    }
  }

 private:
  // The record at off, through a view of what it needs (more at the end of
  // the file is not there: the view is then all that is left).
  // `cost`: the bytes it had to look at (a CRC over each).
  result<scan_result, error> scan_at(std::uint64_t off, std::uint64_t* cost = nullptr) {
    const std::size_t hdr = version_ == 1 ? record_header_bytes_v1 : record_header_bytes;
    auto v = src_.view(off, hdr);
    if (!v) return unexpected<error>{v.error()};
    std::size_t need = hdr;
    if (v->size() >= hdr) {
      const char* p = v->data();
      std::uint32_t len = 0;
      if (version_ == 1) {
        len = load<std::uint32_t>(p);
      } else if (load<std::uint32_t>(p) == record_marker && load<std::uint32_t>(p + 20) == crc32c(p, 20)) {
        len = load<std::uint32_t>(p + 4);
      }
      if (len > 0 && len <= maxp_) need = version_ == 1 ? record_footprint_v1(len) : record_footprint(len);
      if (need > hdr) {
        v = src_.view(off, need);
        if (!v) return unexpected<error>{v.error()};
      }
    }
    const std::span<const char> bytes = v->first(std::min<std::size_t>(v->size(), need));
    if (cost != nullptr) *cost = bytes.size();
    scan_result r = scan_record(bytes, 0, maxp_, version_);
    r.next += off;
    return r;
  }

  // A record fits where it is found: its number follows the last one kept
  // (or, after damage, is above it), and no higher than the records that fit
  // between the header and here allow.
  bool acceptable(std::uint64_t seq, std::uint64_t off) const noexcept {
    const std::uint64_t fp = version_ == 1 ? record_footprint_v1(1) : min_record_footprint;
    const std::uint64_t most = first_seq_ + (off - segment_header_bytes) / fp;
    if (seq < expect_ || seq > most) return false;
    return gap_ok_ || seq == expect_;
  }

  void keep(std::uint64_t off, const scan_result& r) {
    if (rep_.record_count == 0) rep_.first_record_seq = r.seq;
    if (r.seq > expect_ && new_gap_) {
      rep_.missing_seqs += r.seq - expect_;
      rep_.gaps.push_back({expect_, r.seq - expect_});
    }
    ++rep_.record_count;
    rep_.last_record_seq = r.seq;
    if (rep_.resume_offset == 0 && r.seq > o_.acked) rep_.resume_offset = off;
    if (o_.keep_records) rep_.records.push_back({off, r.seq, static_cast<std::uint32_t>(r.payload.size())});
    expect_ = r.seq + 1;
    gap_ok_ = new_gap_ = false;
  }

  // Whether the 8 bytes at off (fewer at the end) are all zero.
  result<bool, error> zero_word(std::uint64_t off) {
    auto v = src_.view(off, 8);
    if (!v) return unexpected<error>{v.error()};
    const std::size_t n = std::min<std::size_t>(v->size(), 8);
    return std::all_of(v->data(), v->data() + n, [](char c) { return c == 0; });
  }

  // The 8-aligned offset of the first non-zero byte at or after off, or size_.
  result<std::uint64_t, error> zero_end(std::uint64_t off) {
    std::uint64_t p = off;
    while (p < size_) {
      const std::uint64_t d = src_.next_data(p) & ~std::uint64_t{7};
      if (d > p) p = std::min(d, size_);
      if (p >= size_) break;
      auto v = src_.view(p, scan_chunk);
      if (!v) return unexpected<error>{v.error()};
      const char* b = v->data();
      const std::size_t n = std::min<std::size_t>(v->size(), scan_chunk);
      if (n == 0) break;  // the file shrank under us
      const char* nz = std::find_if(b, b + n, [](char c) { return c != 0; });
      if (nz != b + n) return (p + static_cast<std::uint64_t>(nz - b)) & ~std::uint64_t{7};
      p += n;
    }
    return size_;
  }

  // Damage at `off` (nothing valid before `search`): records it and says where
  // the scan goes on (0: it ended).
  result<std::uint64_t, error> damage(std::uint64_t off, std::uint64_t search) {
    if (version_ == 1 || rep_.damaged.size() + 1 >= max_damaged_ranges) return finish_tail(off);
    auto p = resync(off, search);
    if (!p) return unexpected<error>{p.error()};
    if (*p >= size_) return finish_tail(off);
    rep_.damaged.push_back({off, *p - off});
    gap_ok_ = new_gap_ = true;
    return *p;
  }

  // The next offset after the damage at `from` holding a record that fits (or
  // a skip record), at least a skip record's header away so the range can be
  // overwritten with one; size_ when there is none.
  result<std::uint64_t, error> resync(std::uint64_t from, std::uint64_t search) {
    std::uint64_t p = std::max(from + record_header_bytes, (search + 7) & ~std::uint64_t{7});
    while (p + record_header_bytes <= size_) {
      const std::uint64_t d = (src_.next_data(p) + 7) & ~std::uint64_t{7};
      if (d > p) {
        p = d;
        continue;
      }
      auto v = src_.view(p, scan_chunk);
      if (!v) return unexpected<error>{v.error()};
      const std::size_t n = std::min<std::size_t>(v->size(), scan_chunk);
      std::size_t i = 0;
      bool candidate = false;
      for (; i + 4 <= n; i += 8) {
        const auto m = load<std::uint32_t>(v->data() + i);
        if (m == record_marker || m == skip_marker) {
          candidate = true;
          break;
        }
      }
      if (!candidate) {
        p += std::max<std::size_t>(8, n & ~std::size_t{7});
        continue;
      }
      p += i;
      std::uint64_t cost = 0;
      auto r = scan_at(p, &cost);  // replaces the view
      if (!r) return unexpected<error>{r.error()};
      if (cost > budget_) return size_;
      budget_ -= cost;
      if (r->kind == scan_kind::record) {
        const bool saved = gap_ok_;
        gap_ok_ = true;
        const bool fits = acceptable(r->seq, p);
        gap_ok_ = saved;
        if (fits) return p;
      } else if (r->kind == scan_kind::skip && r->next <= size_) {
        return p;
      }
      p += 8;
    }
    return size_;
  }

  // Version 1 has no header CRC: a record running past the end of the newest
  // segment may be a cut write or a damaged length. The bytes tell them apart
  // where they can: a damaged length leaves the record's own sequence number
  // wrong, or a shorter length whose CRC matches (the record was complete),
  // or the next record after it.
  result<bool, error> v1_tail_is_damage(std::uint64_t off) {
    const std::uint64_t rest = size_ - off;
    if (rest < record_header_bytes_v1) return false;  // the cut came inside the header
    auto v = src_.view(off, static_cast<std::size_t>(rest));
    if (!v) return unexpected<error>{v.error()};
    const char* b = v->data();
    const auto len = load<std::uint32_t>(b);
    if (len == 0 || len > maxp_) return false;  // not a torn record at all: scan_record said so
    if (rest > budget_) return true;
    budget_ -= rest;
    if (load<std::uint64_t>(b + 8) != expect_) return true;
    const auto stored = load<std::uint32_t>(b + 4);
    std::uint32_t crc = crc32c(b + 8, 8);
    for (std::uint64_t l = 1; record_footprint_v1(l) <= rest; ++l) {
      crc = crc32c(b + record_header_bytes_v1 + l - 1, 1, crc);
      if (crc != stored) continue;
      const char* pad = b + record_header_bytes_v1 + l;
      const char* pad_end = b + record_footprint_v1(l);
      if (std::all_of(pad, pad_end, [](char c) { return c == 0; })) return true;
    }
    for (std::uint64_t p = record_footprint_v1(1); p + record_header_bytes_v1 <= rest; p += 8) {
      if (load<std::uint64_t>(b + p + 8) != expect_ + 1) continue;
      const scan_result r = scan_record(std::span<const char>(b, static_cast<std::size_t>(rest)),
                                        static_cast<std::size_t>(p), maxp_, 1);
      if (r.kind == scan_kind::record && r.seq == expect_ + 1) return true;
    }
    return false;
  }

  result<bool, error> finish_clean(std::uint64_t off) {
    rep_.valid_end = std::min(off, size_);
    rep_.result = rep_.damaged.empty() ? outcome::clean : outcome::corrupt;
    return true;
  }

  result<bool, error> finish_torn(std::uint64_t off) {
    if (!o_.last_segment) {
      auto t = finish_tail(off);
      if (!t) return unexpected<error>{t.error()};
      return true;
    }
    rep_.valid_end = off;
    rep_.torn_bytes = size_ - off;
    rep_.result = rep_.damaged.empty() ? outcome::torn : outcome::corrupt;
    return true;
  }

  result<std::uint64_t, error> finish_tail(std::uint64_t off) {
    rep_.damaged.push_back({off, size_ - off});
    rep_.valid_end = off;
    rep_.result = outcome::corrupt;
    return std::uint64_t{0};
  }

  byte_source& src_;
  const recover_options& o_;
  segment_report& rep_;
  std::uint32_t version_;
  std::uint32_t maxp_;
  std::uint64_t size_;
  std::uint64_t first_seq_;
  std::uint64_t expect_;
  bool gap_ok_ = false;   // the next record may jump ahead (damage or a skip record before it)
  bool new_gap_ = false;  // ... because of damage found by this scan: the jump is counted
  std::uint64_t budget_;
};

}  // namespace

result<segment_report, error> scan_source(byte_source& src, const recover_options& opts) {
  segment_report rep;
  rep.file_bytes = src.size();
  auto hv = src.view(0, segment_header_bytes);
  if (!hv) return unexpected<error>{hv.error()};
  segment_header h;
  switch (decode_header(hv->first(std::min<std::size_t>(hv->size(), segment_header_bytes)), h)) {
    case header_status::ok:
      break;
    case header_status::bad_version:
      return unexpected<error>{{errc::unsupported_version, 0, "segment header"}};
    case header_status::short_file:
      // Created, but the header (written with the first records) never fully
      // landed, so nothing in it was ever acknowledged. An empty file is a
      // clean, empty segment; the caller deletes segments without a header.
      rep.result = rep.file_bytes == 0 ? outcome::clean : opts.last_segment ? outcome::torn : outcome::corrupt;
      (rep.result == outcome::torn ? rep.torn_bytes : rep.quarantined_bytes) = rep.file_bytes;
      rep.cut_bytes = rep.file_bytes;
      if (rep.result == outcome::corrupt) rep.damaged.push_back({0, rep.file_bytes});
      return rep;
    case header_status::bad_magic:
    case header_status::bad_crc:
      rep.result = outcome::corrupt;
      rep.damaged.push_back({0, rep.file_bytes});
      rep.quarantined_bytes = rep.cut_bytes = rep.file_bytes;
      return rep;
  }
  rep.header = h;
  scanner s(src, opts, rep, h);
  if (auto r = s.run(); !r) return unexpected<error>{r.error()};
  for (const byte_range& d : rep.damaged) rep.quarantined_bytes += d.bytes;
  rep.cut_bytes = rep.result == outcome::torn ? rep.torn_bytes : rep.quarantined_bytes;
  return rep;
}

}  // namespace detail

result<segment_report, error> scan_segment(std::span<const char> bytes, const recover_options& opts) {
  detail::span_source src(bytes);
  return detail::scan_source(src, opts);
}

}  // namespace tg::spool
