// SPDX-License-Identifier: Apache-2.0
// Blocking POSIX helpers shared by the spool's start-up and test paths
// (internal). Each retries EINTR and short transfers and reports errno as a
// spool error naming the operation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"

namespace tg::spool::detail {

inline unexpected<error> io_error(const char* what, int err) { return unexpected<error>{{errc::io, err, what}}; }

result<bool, error> pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t offset) noexcept;
result<std::vector<char>, error> read_whole(int fd);
// fsync of a directory, so a created, renamed or removed entry survives a power cut.
result<bool, error> fsync_dir(const std::string& dir) noexcept;
std::string parent_dir(const std::string& path);

// Closes an fd on scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard();
};

}  // namespace tg::spool::detail
