// SPDX-License-Identifier: Apache-2.0
// Blocking file helpers for recovery, the ack file and flush(): retry EINTR
// and short transfers, keep errno.
#include "file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tg::spool::detail {

fd_guard::~fd_guard() {
  if (fd >= 0) ::close(fd);
}

result<bool, error> pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t offset) noexcept {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return io_error("pwrite", errno);
    }
    if (w == 0) return io_error("pwrite", EIO);  // no progress on a regular file: treat as an I/O error
    data += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  return true;
}

result<std::vector<char>, error> read_whole(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error("fstat", errno);
  std::vector<char> buf(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < buf.size()) {
    const ssize_t r = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return io_error("pread", errno);
    }
    if (r == 0) break;  // shrank under us: scan what is there
    got += static_cast<std::size_t>(r);
  }
  buf.resize(got);
  return buf;
}

result<bool, error> fsync_dir(const std::string& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open directory", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("fsync directory", err);
  return true;
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace tg::spool::detail
