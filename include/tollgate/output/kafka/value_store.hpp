// SPDX-License-Identifier: Apache-2.0
// The bytes of message values while librdkafka holds them. The shard produces
// without RD_KAFKA_MSG_F_COPY (librdkafka points at the value instead of
// allocating and copying it; bench/output/kafka/floor_bench.cpp), so each
// value must stay where it is until its message's last delivery report is
// in. Values are appended to large chunks; a chunk is freed once every
// message stored in it is below the oldest sequence number still in flight.
// A message produced again (after a failed delivery) points at the bytes
// stored the first time: an outage that times messages out again and again
// stores each value once.
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

  // At most `in_flight` sequence numbers are unreleased at a time (the
  // release tracker's capacity).
  explicit value_store(std::size_t in_flight, std::size_t chunk_bytes = 256 * 1024);

  // The value of message `seq`: copied into the store the first time, the
  // bytes stored then every later time (the caller's bytes are the same: one
  // record encodes one way). The view stays valid until release_below()
  // passes `seq`.
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
  struct stored {
    std::uint64_t seq = ~std::uint64_t{0};
    std::string_view bytes;
  };
  std::size_t chunk_bytes_;
  std::deque<chunk> chunks_;
  std::vector<stored> index_;  // by seq % in_flight
};

}  // namespace tg::kafka
