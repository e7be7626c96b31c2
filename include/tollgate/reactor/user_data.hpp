// SPDX-License-Identifier: Apache-2.0
// How an io_uring completion finds its owner. Every SQE's user_data is
// (owner, operation, generation, slot): 8 bits naming the component that
// submitted it (an id the shard's loop hands out, see loop.hpp), 8 bits of
// that component's own operation code, 16 bits of generation, 32 bits of slot.
// The reactor never interprets the operation: each component decodes its own.
// A slot (a connection, an upstream link) is reused with its generation bumped,
// so a late completion for the previous occupant decodes to a stale generation
// and is dropped by its owner.
#pragma once

#include <cstdint>
#include <type_traits>

namespace tg::reactor {

using owner_id = std::uint8_t;

// Owner 0 is the loop itself: its tick, and completions nobody wants (the
// results of cancellations, which are only acknowledgements).
inline constexpr owner_id loop_owner = 0;
inline constexpr std::uint8_t loop_tick = 1;
inline constexpr std::uint8_t loop_ignore = 0;

struct tag {
  owner_id owner = loop_owner;
  std::uint8_t op = 0;   // the owner's own operation code
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;  // 16 bits
};

inline constexpr std::uint32_t generation_mask = 0xFFFFu;

constexpr std::uint64_t encode(owner_id owner, std::uint8_t op, std::uint32_t slot, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(owner) << 56) | (static_cast<std::uint64_t>(op) << 48) |
         (static_cast<std::uint64_t>(gen & generation_mask) << 32) | slot;
}

// The same with a component's own `enum class op : std::uint8_t`.
template <class Op>
  requires std::is_enum_v<Op>
constexpr std::uint64_t encode(owner_id owner, Op op, std::uint32_t slot, std::uint32_t gen) noexcept {
  return encode(owner, static_cast<std::uint8_t>(op), slot, gen);
}

constexpr tag decode(std::uint64_t user_data) noexcept {
  return {static_cast<owner_id>(user_data >> 56), static_cast<std::uint8_t>((user_data >> 48) & 0xFFu),
          static_cast<std::uint32_t>(user_data & 0xFFFFFFFFu),
          static_cast<std::uint32_t>((user_data >> 32) & generation_mask)};
}

// user_data for an SQE whose completion nobody needs (an async cancel).
inline constexpr std::uint64_t ignored = encode(loop_owner, loop_ignore, 0, 0);

}  // namespace tg::reactor
