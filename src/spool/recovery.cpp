// SPDX-License-Identifier: Apache-2.0
// Segment recovery: the verdict is computed from the bytes (scan_segment), then
// applied to the file in an order that is safe to interrupt: the damaged tail
// is copied out and made durable before the segment is cut.
#include "tollgate/spool/recovery.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "file_io.hpp"

namespace tg::spool {

result<segment_report, error> scan_segment(std::span<const char> bytes, const recover_options& opts) {
  segment_report rep;
  rep.file_bytes = bytes.size();
  segment_header h;
  switch (decode_header(bytes, h)) {
    case header_status::ok:
      break;
    case header_status::bad_version:
      return unexpected<error>{{errc::unsupported_version, 0, "segment header"}};
    case header_status::short_file:
      // Created, but the header (written with the first records) never fully
      // landed, so nothing in it was ever acknowledged. An empty file is a
      // clean, empty segment; the caller deletes segments without a header.
      rep.result = bytes.empty() ? outcome::clean : opts.last_segment ? outcome::torn : outcome::corrupt;
      rep.cut_bytes = bytes.size();
      return rep;
    case header_status::bad_magic:
    case header_status::bad_crc:
      rep.result = outcome::corrupt;
      rep.cut_bytes = bytes.size();
      return rep;
  }
  rep.header = h;
  std::size_t off = segment_header_bytes;
  std::uint64_t expect = h.first_seq;
  for (;;) {
    const scan_result r = scan_record(bytes, off, opts.max_payload);
    if (r.kind == scan_kind::record && r.seq != expect) break;  // valid bytes, wrong place: damage
    if (r.kind == scan_kind::end) {
      rep.result = outcome::clean;
      rep.valid_end = off;
      return rep;
    }
    if (r.kind == scan_kind::torn) {
      rep.result = opts.last_segment ? outcome::torn : outcome::corrupt;
      rep.valid_end = off;
      rep.cut_bytes = bytes.size() - off;
      return rep;
    }
    if (r.kind == scan_kind::corrupt) break;
    rep.records.push_back({off, r.seq, static_cast<std::uint32_t>(r.payload.size())});
    ++expect;
    off = r.next;
  }
  rep.result = outcome::corrupt;
  rep.valid_end = off;
  rep.cut_bytes = bytes.size() - off;
  return rep;
}

namespace {

// Copies the damaged tail to `<path>.corrupt` (or `.corrupt.N` when an
// earlier, different quarantine of this segment is already there: an
// operator's evidence is never overwritten). A copy with the same bytes is
// what a recovery interrupted before its truncate left behind: reuse it.
result<bool, error> quarantine(const std::string& path, std::span<const char> tail) {
  constexpr int max_copies = 100;
  for (int n = 0; n < max_copies; ++n) {
    std::string to = path + ".corrupt";
    if (n > 0) to.append(".").append(std::to_string(n));
    detail::fd_guard out{::open(to.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640)};
    if (out.fd < 0 && errno == EEXIST) {
      detail::fd_guard old{::open(to.c_str(), O_RDONLY | O_CLOEXEC)};
      if (old.fd < 0) return detail::io_error("open .corrupt", errno);
      auto had = detail::read_whole(old.fd);
      if (!had) return unexpected<error>{had.error()};
      if (std::equal(had->begin(), had->end(), tail.begin(), tail.end())) return true;
      continue;
    }
    if (out.fd < 0) return detail::io_error("create .corrupt", errno);
    if (auto w = detail::pwrite_all(out.fd, tail.data(), tail.size(), 0); !w) return unexpected<error>{w.error()};
    if (::fsync(out.fd) != 0) return detail::io_error("fsync .corrupt", errno);
    return detail::fsync_dir(detail::parent_dir(path));
  }
  return detail::io_error("create .corrupt", EEXIST);
}

}  // namespace

result<segment_report, error> recover_segment(const std::string& path, const recover_options& opts) {
  detail::fd_guard f{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (f.fd < 0) return detail::io_error("open segment", errno);
  auto bytes = detail::read_whole(f.fd);
  if (!bytes) return unexpected<error>{bytes.error()};
  auto rep = scan_segment(*bytes, opts);
  if (!rep || rep->result == outcome::clean) return rep;
  if (rep->result == outcome::corrupt) {
    const std::span<const char> all(*bytes);
    if (auto q = quarantine(path, all.subspan(rep->valid_end)); !q) return unexpected<error>{q.error()};
  }
  if (::ftruncate(f.fd, static_cast<off_t>(rep->valid_end)) != 0) return detail::io_error("ftruncate segment", errno);
  if (::fdatasync(f.fd) != 0) return detail::io_error("fdatasync segment", errno);
  return rep;
}

}  // namespace tg::spool
