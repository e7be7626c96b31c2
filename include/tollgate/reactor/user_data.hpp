// SPDX-License-Identifier: Apache-2.0
// How an io_uring completion finds its owner. Every SQE's user_data is
// (operation, slot, generation): 8 bits of operation, 24 bits of generation,
// 32 bits of slot. A slot is reused for the next connection with its
// generation bumped, so a late completion for the previous occupant (a recv
// that raced the close) decodes to a stale generation and is dropped.
#pragma once

#include <cstdint>

namespace tg::reactor {

enum class op : std::uint8_t {
  none = 0,
  accept,  // multishot accept on a listening socket; slot = listener index
  recv,    // multishot recv with provided buffers; slot = connection
  send,    // send of a connection's output buffer
  tick,    // the shard's periodic timer
  cancel,  // an async cancel we issued (its result is not interesting)
  wake,    // read on the shard's eventfd (stop requests)
  up_connect,  // connect of an upstream link; slot = link
  up_send,     // send on an upstream link
  up_recv,     // recv on an upstream link
  connect, // an outgoing connect (clients: tollgate-load); slot = connection
  spool_write,  // a write of the shard's spool segment buffer
  spool_sync,   // an fdatasync / fsync of a group commit
  spool_read,   // a read of a segment back into memory (slot = read generation)
};

struct tag {
  op kind = op::none;
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;  // 24 bits
};

inline constexpr std::uint32_t generation_mask = 0xFFFFFFu;

constexpr std::uint64_t encode(op kind, std::uint32_t slot, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(kind) << 56) | (static_cast<std::uint64_t>(gen & generation_mask) << 32) |
         slot;
}

constexpr tag decode(std::uint64_t user_data) noexcept {
  return {static_cast<op>(user_data >> 56), static_cast<std::uint32_t>(user_data & 0xFFFFFFFFu),
          static_cast<std::uint32_t>((user_data >> 32) & generation_mask)};
}

}  // namespace tg::reactor
