// SPDX-License-Identifier: Apache-2.0
// One upstream request over a run of ring records: the request head (prefix
// up to "Content-Length: ", the length) and the events' bytes exactly as
// accepted, joined into a JSON array. Two shapes of the same bytes: pieces
// that point into the ring (head, each event, "," between, "]"), for TLS to
// encrypt from where they lie, or one buffer the body is copied into, for a
// plain socket send (a gather write of ~260-byte pieces costs the kernel more
// than one copy here does: bench/RESULTS.md, "HTTP output: sending batches").
// The ring keeps the records until the answer releases them. Protocol core:
// no I/O.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/ring/event_ring.hpp"

namespace tg::upstream {

class gather_request {
 public:
  // Replaces the request by one for the records in [begin, end), behind
  // head_prefix. `body_bytes` is the JSON array's size when the caller
  // already measured it (the batcher does), or 0 to measure it here with an
  // extra pass. Returns the number of events. The pieces point into the ring
  // and into this object: it must not be copied or moved while they are in use.
  std::uint32_t build(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                      std::string_view head_prefix, std::size_t body_bytes = 0);
  // The same request as one piece: head and body copied into this object.
  std::uint32_t build_joined(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                             std::string_view head_prefix, std::size_t body_bytes = 0);
  // The pieces from the first byte not yet sent; mutable so a sendmsg can
  // take them (its partial progress is recorded by advance(), not by them).
  std::span<iovec> rest() noexcept { return {iov_.data() + cur_, iov_.size() - cur_}; }
  // `n` more bytes went out (n <= bytes_left()).
  void advance(std::size_t n) noexcept;
  std::size_t bytes_left() const noexcept { return left_; }
  bool done() const noexcept { return left_ == 0; }
  std::size_t bytes() const noexcept { return total_; }
  // Forgets the request (its pieces no longer point anywhere).
  void clear() noexcept;

 private:
  std::size_t start(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                    std::string_view head_prefix, std::size_t body_bytes);

  std::string head_;  // the head and "[" (pieces), or the whole request (joined)
  std::vector<iovec> iov_;
  std::size_t cur_ = 0;    // first piece not wholly sent
  std::size_t left_ = 0;   // bytes not yet sent
  std::size_t total_ = 0;  // bytes of the whole request
};

}  // namespace tg::upstream
