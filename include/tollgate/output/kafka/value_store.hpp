// SPDX-License-Identifier: Apache-2.0
// The bytes of message values while librdkafka holds them. The shard produces
// without RD_KAFKA_MSG_F_COPY (librdkafka points at the value instead of
// allocating and copying it; bench/output/kafka/floor_bench.cpp), so each
// value must stay where it is until its message's last delivery report is
// in. Values are appended to large chunks; a chunk is freed once every
// message stored in it is below the oldest sequence number still in flight.
// Pure bookkeeping: no I/O, no clock, no librdkafka. Lives on its shard's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <vector>

namespace tg::kafka {

class value_store {
 public:
  using chunk_ref = std::shared_ptr<char[]>;

  explicit value_store(std::size_t chunk_bytes = 256 * 1024);

  // Copies `bytes` (the value of message `seq`) into the store; the view stays
  // valid until release_below() passes `seq`.
  std::string_view put(std::uint64_t seq, std::string_view bytes);
  // Frees every chunk, from the oldest, whose messages all have sequence
  // numbers below `first_in_flight`.
  void release_below(std::uint64_t first_in_flight);
  // The chunks now held, for a producer being destroyed on another thread
  // (its threads may still read values until it is gone).
  std::vector<chunk_ref> share() const;

  std::size_t chunks() const noexcept { return chunks_.size(); }
  std::size_t bytes_held() const noexcept;

 private:
  struct chunk {
    chunk_ref data;
    std::size_t size = 0;
    std::size_t used = 0;
    std::uint64_t max_seq = 0;  // the highest sequence number stored in it
  };
  std::size_t chunk_bytes_;
  std::deque<chunk> chunks_;
};

}  // namespace tg::kafka
