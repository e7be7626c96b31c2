// SPDX-License-Identifier: Apache-2.0
// The --record file.
#include "record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tg::sink {

recorder::recorder(const std::string& path) {
  if (path.empty()) return;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open --record " + path + ": " + std::strerror(errno));
}

recorder::~recorder() {
  if (fd_ >= 0) ::close(fd_);
}

bool recorder::append(std::string_view lines) {
  std::lock_guard<std::mutex> lock(m_);
  while (!lines.empty()) {
    const ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    lines.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void recorder::flatten(std::string& out, std::string_view event) {
  const std::size_t at = out.size();
  out.append(event);
  for (std::size_t i = at; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
  out.push_back('\n');
}

}  // namespace tg::sink
