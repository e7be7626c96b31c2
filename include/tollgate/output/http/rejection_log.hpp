// SPDX-License-Identifier: Apache-2.0
// The ring ranges the upstream refused (and the forwarder dead-lettered),
// with its status and detail, kept until the front door has had the chance to
// ask about them (--ack upstream answers 502 rather than 204 for a request
// whose events were refused). Fixed size: when more refusals come at once
// than it holds, the oldest are folded into one "lost" range that is answered
// as refused with status 0, never as delivered. One per forwarder, on its shard.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "tollgate/output/output.hpp"

namespace tg::upstream {

class rejection_log {
 public:
  static constexpr std::size_t capacity = 64;
  static constexpr std::size_t max_detail = 256;  // bytes of the upstream's detail kept

  // Ring records [begin, end) (`events` of them) were refused with `status`.
  void add(std::uint64_t begin, std::uint64_t end, std::uint64_t events, int status, std::string_view detail) noexcept;
  // Once per poll, with the ring's read_begin() now: forgets the ranges that
  // were already released when the previous call was made.
  void prune(std::uint64_t read_begin) noexcept;
  // The refusals that overlap [begin, end): the first one's status and
  // detail, and every one's events.
  std::optional<output::rejection> find(std::uint64_t begin, std::uint64_t end) const noexcept;
  // Every refused range overlapping [begin, end), with its own bounds; the
  // lost hull (status 0) too when it overlaps.
  void each(std::uint64_t begin, std::uint64_t end, const output::shard_output::refused_run& f) const;
  std::size_t size() const noexcept { return count_; }

 private:
  struct entry {
    std::uint64_t begin = 0, end = 0, events = 0;
    int status = 0;
    std::size_t detail_len = 0;
    char detail[max_detail];
  };
  std::array<entry, capacity> entries_;  // oldest first
  std::size_t count_ = 0;
  bool lost_ = false;  // ranges evicted unasked: their hull is answered as refused
  std::uint64_t lost_begin_ = 0, lost_end_ = 0;
  std::uint64_t released_mark_ = 0;  // read_begin() at the previous prune()
};

}  // namespace tg::upstream
