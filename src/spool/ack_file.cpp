// SPDX-License-Identifier: Apache-2.0
// The acknowledged position on disk: a 24-byte file replaced by rename, the
// POSIX way to make a small update atomic. The directory fsync makes the
// rename itself survive a power cut.
#include "tollgate/spool/ack_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "endian.hpp"
#include "file_io.hpp"
#include "tollgate/spool/crc32c.hpp"

namespace tg::spool {
namespace {
constexpr char ack_magic[8] = {'T', 'G', 'A', 'C', 'K', 'E', 'D', '1'};
}

std::array<char, ack_file_bytes> encode_ack(std::uint64_t acked) noexcept {
  std::array<char, ack_file_bytes> out{};
  std::memcpy(out.data(), ack_magic, 8);
  detail::store(out.data() + 8, acked);
  detail::store(out.data() + 16, crc32c(out.data(), 16));
  return out;
}

ack_position decode_ack(std::span<const char> bytes) noexcept {
  ack_position p{0, ack_state::corrupt};
  if (bytes.size() != ack_file_bytes || std::memcmp(bytes.data(), ack_magic, 8) != 0) return p;
  if (detail::load<std::uint32_t>(bytes.data() + 16) != crc32c(bytes.data(), 16)) return p;
  p.acked = detail::load<std::uint64_t>(bytes.data() + 8);
  p.state = ack_state::ok;
  return p;
}

result<ack_position, error> read_ack_file(const std::string& dir) {
  const std::string path = dir + "/" + ack_file_name;
  detail::fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    if (errno == ENOENT) return ack_position{0, ack_state::missing};
    return detail::io_error("open ack file", errno);
  }
  auto bytes = detail::read_whole(f.fd);
  if (!bytes) return unexpected<error>{bytes.error()};
  return decode_ack(*bytes);
}

result<bool, error> write_ack_file(const std::string& dir, std::uint64_t acked, bool durable) {
  const std::string path = dir + "/" + ack_file_name;
  const std::string tmp = path + ".tmp";
  const auto bytes = encode_ack(acked);
  {
    detail::fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)};
    if (f.fd < 0) return detail::io_error("create ack file", errno);
    if (auto w = detail::pwrite_all(f.fd, bytes.data(), bytes.size(), 0); !w) return w;
    // The data must be on disk before the rename can expose it.
    if (durable && ::fdatasync(f.fd) != 0) return detail::io_error("fdatasync ack file", errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return detail::io_error("rename ack file", errno);
  if (!durable) return true;
  return detail::fsync_dir(dir);
}

}  // namespace tg::spool
