// SPDX-License-Identifier: Apache-2.0
#include "tollgate/spool/segment_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "file_io.hpp"

namespace tg::spool {

segment_reader::segment_reader(std::uint32_t max_payload, std::size_t chunk_bytes)
    : max_payload_(std::min(max_payload, max_payload_limit)), chunk_(std::max<std::size_t>(chunk_bytes, 4096)) {}

segment_reader::~segment_reader() { close(); }

void segment_reader::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_len_ = 0;
  buf_off_ = 0;
  buf_eof_ = false;
  fresh_ = false;
  off_ = 0;
}

result<bool, error> segment_reader::open(const std::string& path, std::uint64_t offset) {
  close();
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) return detail::io_error("open segment for reading", errno);
  path_ = path;
  off_ = std::max<std::uint64_t>(offset, segment_header_bytes);
  return true;
}

// Fills the buffer from offset(). `grow`: the buffer already started there and
// still held only part of a record, so ask for the largest record at once.
std::size_t segment_reader::load_size(bool grow) {
  std::size_t want = chunk_;
  if (grow) want = std::max(want, std::max(buf_.size() * 2, record_footprint(max_payload_)));
  if (buf_.size() < want) buf_.resize(want);
  return want;
}

segment_reader::load_target segment_reader::next_load() {
  want_ = load_size(want_grow_);
  return {off_, buf_.data(), want_};
}

void segment_reader::loaded(std::size_t n) noexcept {
  buf_off_ = off_;
  buf_len_ = std::min(n, want_);
  buf_eof_ = n < want_;
  fresh_ = true;
}

result<bool, error> segment_reader::load(bool grow) {
  const std::size_t want = load_size(grow);
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n = ::pread(fd_, buf_.data() + got, want - got, static_cast<off_t>(off_ + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return detail::io_error("read segment", errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  buf_off_ = off_;
  buf_len_ = got;
  buf_eof_ = got < want;
  return true;
}

}  // namespace tg::spool
