// SPDX-License-Identifier: Apache-2.0
// Segment recovery on a file: the verdict comes from scanning it through a
// bounded window (segment_scan.cpp), then it is applied in an order that is
// safe to interrupt: the damaged bytes are copied out and made durable before
// the segment is touched. Copies are sparse (zero blocks stay holes), and a
// segment without a valid header is renamed aside rather than copied, so a
// huge file costs neither memory nor a second huge file.
#include "tollgate/spool/recovery.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "byte_source.hpp"
#include "file_io.hpp"

namespace tg::spool {
namespace {

constexpr std::size_t chunk_bytes = 1u << 20;  // one pread while scanning or copying
constexpr std::size_t block_bytes = 4096;      // holes in a copy are whole blocks
constexpr int max_copies = 100;                // .corrupt, .corrupt.1, ... .corrupt.99

// A segment file read through one window buffer of at most the largest view
// asked for (a chunk, or the largest record).
class file_source final : public detail::byte_source {
 public:
  file_source(int fd, std::uint64_t size) noexcept : fd_(fd), size_(size) {}
  std::uint64_t size() const noexcept override { return size_; }

  result<std::span<const char>, error> view(std::uint64_t off, std::size_t want) override {
    const std::uint64_t left = size_ - std::min(off, size_);
    want = static_cast<std::size_t>(std::min<std::uint64_t>(want, left));
    if (off >= buf_off_ && off + want <= buf_off_ + len_ && (want > 0 || off <= buf_off_ + len_)) {
      return std::span<const char>(buf_.data() + (off - buf_off_), static_cast<std::size_t>(buf_off_ + len_ - off));
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(std::max(want, chunk_bytes), left));
    if (buf_.size() < n) buf_.resize(n);
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, buf_.data() + got, n - got, static_cast<off_t>(off + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return detail::io_error("read segment", errno);
      }
      if (r == 0) break;  // shrank under us: the scan sees what is there
      got += static_cast<std::size_t>(r);
    }
    buf_off_ = off;
    len_ = got;
    return std::span<const char>(buf_.data(), got);
  }

  std::uint64_t next_data(std::uint64_t off) noexcept override {
    if (off >= size_) return size_;
    const off_t d = ::lseek(fd_, static_cast<off_t>(off), SEEK_DATA);
    if (d < 0) return errno == ENXIO ? size_ : off;  // ENXIO: a hole to the end; otherwise no SEEK_DATA here
    return std::max<std::uint64_t>(off, static_cast<std::uint64_t>(d));
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::vector<char> buf_;
  std::uint64_t buf_off_ = 0;
  std::size_t len_ = 0;
};

bool zero(const char* p, std::size_t n) noexcept {
  return std::all_of(p, p + n, [](char c) { return c == 0; });
}

// Calls f(offset, bytes) for each piece of `ranges` that may hold data, in
// chunks, skipping holes.
template <class F>
result<bool, error> each_piece(file_source& src, const std::vector<byte_range>& ranges, F&& f) {
  for (const byte_range& r : ranges) {
    std::uint64_t p = r.offset;
    while (p < r.end()) {
      const std::uint64_t d = src.next_data(p);
      if (d > p) {
        p = std::min(d, r.end());
        continue;
      }
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes, r.end() - p));
      auto v = src.view(p, n);
      if (!v) return unexpected<error>{v.error()};
      const std::size_t m = std::min(n, v->size());
      if (m == 0) break;  // the file shrank
      if (auto w = f(p, v->data(), m); !w) return w;
      p += m;
    }
  }
  return true;
}

// Writes the non-zero blocks of `ranges` into `out` at their offsets.
result<bool, error> copy_ranges(file_source& src, int out, const std::vector<byte_range>& ranges) {
  auto w = each_piece(src, ranges, [&](std::uint64_t at, const char* p, std::size_t n) -> result<bool, error> {
    std::size_t i = 0;
    while (i < n) {
      // One block (up to the next block boundary of the file), or a run of non-zero ones.
      std::size_t j = i;
      while (j < n) {
        const std::size_t step = std::min(n - j, block_bytes - static_cast<std::size_t>((at + j) % block_bytes));
        if (zero(p + j, step)) break;
        j += step;
      }
      if (j > i) {
        if (auto r = detail::pwrite_all(out, p + i, j - i, at + i); !r) return r;
        i = j;
        continue;
      }
      i += std::min(n - i, block_bytes - static_cast<std::size_t>((at + i) % block_bytes));  // a zero block: a hole
    }
    return true;
  });
  if (!w) return w;
  const std::uint64_t end = ranges.empty() ? 0 : ranges.back().end();
  if (::ftruncate(out, static_cast<off_t>(end)) != 0) return detail::io_error("ftruncate .corrupt", errno);
  return true;
}

// Whether `old` already holds the bytes of `ranges` at their offsets: what a
// recovery interrupted before it changed the segment left behind.
result<bool, error> same_copy(file_source& src, int old, const std::vector<byte_range>& ranges) {
  struct stat st {};
  if (::fstat(old, &st) != 0) return detail::io_error("fstat .corrupt", errno);
  if (ranges.empty() || static_cast<std::uint64_t>(st.st_size) < ranges.back().end()) return false;
  std::vector<char> mine(chunk_bytes);
  bool same = true;
  auto w = each_piece(src, ranges, [&](std::uint64_t at, const char* p, std::size_t n) -> result<bool, error> {
    if (!same) return true;
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(old, mine.data() + got, n - got, static_cast<off_t>(at + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return detail::io_error("read .corrupt", errno);
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    same = got == n && std::memcmp(mine.data(), p, n) == 0;
    return true;
  });
  if (!w) return unexpected<error>{w.error()};
  return same;
}

std::string copy_name(const std::string& path, int n) {
  std::string to = path + ".corrupt";
  if (n > 0) to.append(".").append(std::to_string(n));
  return to;
}

// Copies the damaged ranges to `<path>.corrupt` (or `.corrupt.N` when an
// earlier, different quarantine of this segment is already there: an
// operator's evidence is never overwritten).
result<bool, error> quarantine(const std::string& path, file_source& src, const std::vector<byte_range>& ranges) {
  for (int n = 0; n < max_copies; ++n) {
    const std::string to = copy_name(path, n);
    detail::fd_guard out{::open(to.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640)};
    if (out.fd < 0 && errno == EEXIST) {
      detail::fd_guard old{::open(to.c_str(), O_RDONLY | O_CLOEXEC)};
      if (old.fd < 0) return detail::io_error("open .corrupt", errno);
      auto same = same_copy(src, old.fd, ranges);
      if (!same) return unexpected<error>{same.error()};
      if (*same) return true;
      continue;
    }
    if (out.fd < 0) return detail::io_error("create .corrupt", errno);
    if (auto w = copy_ranges(src, out.fd, ranges); !w) return w;
    if (::fsync(out.fd) != 0) return detail::io_error("fsync .corrupt", errno);
    return detail::fsync_dir(detail::parent_dir(path));
  }
  return detail::io_error("create .corrupt", EEXIST);
}

// A segment without a valid header is damage from its first byte: it moves
// aside whole, as it is (a rename: no copy, holes stay holes).
result<bool, error> rename_aside(const std::string& path) {
  for (int n = 0; n < max_copies; ++n) {
    const std::string to = copy_name(path, n);
    if (::renameat2(AT_FDCWD, path.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
      return detail::fsync_dir(detail::parent_dir(path));
    }
    if (errno == EEXIST) continue;
    if (errno != EINVAL && errno != ENOSYS) return detail::io_error("rename segment to .corrupt", errno);
    // A file system without RENAME_NOREPLACE: link (which never replaces), then unlink.
    if (::link(path.c_str(), to.c_str()) != 0) {
      if (errno == EEXIST) continue;
      return detail::io_error("link segment to .corrupt", errno);
    }
    if (::unlink(path.c_str()) != 0) return detail::io_error("unlink segment", errno);
    return detail::fsync_dir(detail::parent_dir(path));
  }
  return detail::io_error("rename segment to .corrupt", EEXIST);
}

}  // namespace

result<segment_report, error> recover_segment(const std::string& path, const recover_options& opts) {
  detail::fd_guard f{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (f.fd < 0) return detail::io_error("open segment", errno);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return detail::io_error("fstat segment", errno);
  file_source src(f.fd, static_cast<std::uint64_t>(st.st_size));
  auto rep = detail::scan_source(src, opts);
  if (!rep || rep->result == outcome::clean) return rep;
  if (!rep->header && rep->result == outcome::corrupt) {
    if (auto r = rename_aside(path); !r) return unexpected<error>{r.error()};
    return rep;
  }
  if (!rep->damaged.empty()) {
    if (auto q = quarantine(path, src, rep->damaged); !q) return unexpected<error>{q.error()};
  }
  // The copy is durable: now the segment may change. A damaged range with a
  // record after it becomes a skip record; the end is cut where it is torn
  // or damaged.
  for (const byte_range& d : rep->damaged) {
    if (d.end() >= rep->file_bytes) continue;
    char skip[record_header_bytes];
    encode_skip(std::span<char, record_header_bytes>(skip, record_header_bytes), d.bytes);
    if (auto w = detail::pwrite_all(f.fd, skip, sizeof skip, d.offset); !w) return unexpected<error>{w.error()};
  }
  if (rep->valid_end < rep->file_bytes && ::ftruncate(f.fd, static_cast<off_t>(rep->valid_end)) != 0) {
    return detail::io_error("ftruncate segment", errno);
  }
  if (::fdatasync(f.fd) != 0) return detail::io_error("fdatasync segment", errno);
  return rep;
}

}  // namespace tg::spool
