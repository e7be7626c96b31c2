// SPDX-License-Identifier: Apache-2.0
// The persisted acknowledged position of one shard directory (`acked`): the
// highest sequence number delivered or dead-lettered upstream. Written whole
// and atomically (temp file, fdatasync, rename, fsync of the directory), so a
// crash leaves the old or the new value, never a mix. Losing it only costs a
// replay (at-least-once; OpenMeter deduplicates), so damage reads as 0.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"

namespace tg::spool {

// "TGACKED1" | u64 acked | u32 crc32c(bytes 0..16) | u32 reserved (0)
inline constexpr std::size_t ack_file_bytes = 24;
inline constexpr const char* ack_file_name = "acked";

enum class ack_state : std::uint8_t {
  ok,
  missing,  // no file: nothing was ever acknowledged (or the directory is new)
  corrupt,  // wrong size, magic or CRC: replay everything
};

struct ack_position {
  std::uint64_t acked = 0;
  ack_state state = ack_state::missing;
};

// Pure halves, for a shard that writes the file through io_uring.
std::array<char, ack_file_bytes> encode_ack(std::uint64_t acked) noexcept;
ack_position decode_ack(std::span<const char> bytes) noexcept;

// Reads `<dir>/acked`. Errors only for I/O failures other than a missing file.
result<ack_position, error> read_ack_file(const std::string& dir);
// Replaces `<dir>/acked` atomically (via `<dir>/acked.tmp`). With `durable`
// the temp file and the directory are synced too; without, a power cut may
// bring back an older position, which only costs a replay, so the serving
// path skips the syncs and the clean shutdown does them.
result<bool, error> write_ack_file(const std::string& dir, std::uint64_t acked, bool durable = true);

}  // namespace tg::spool
