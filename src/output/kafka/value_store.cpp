// SPDX-License-Identifier: Apache-2.0
// Chunked storage of message values until their delivery reports are in.
#include "tollgate/output/kafka/value_store.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace tg::kafka {

value_store::value_store(std::size_t in_flight, std::size_t chunk_bytes)
    : chunk_bytes_(chunk_bytes), index_(in_flight) {
  if (chunk_bytes == 0 || in_flight == 0) throw std::invalid_argument("value_store: size 0");
}

std::string_view value_store::put(std::uint64_t seq, std::string_view bytes) {
  stored& slot = index_[seq % index_.size()];
  // Still valid: the chunk holding it is not freed while `seq` is unreleased.
  if (slot.seq == seq) return slot.bytes;
  if (chunks_.empty() || chunks_.back().size - chunks_.back().used < bytes.size()) {
    // A value larger than a chunk gets a chunk of its own size.
    const std::size_t n = std::max(chunk_bytes_, bytes.size());
    chunks_.push_back({chunk_ref(new char[n]), n, 0, seq});
  }
  chunk& c = chunks_.back();
  char* at = c.data.get() + c.used;
  if (!bytes.empty()) std::memcpy(at, bytes.data(), bytes.size());
  c.used += bytes.size();
  c.max_seq = std::max(c.max_seq, seq);
  slot = {seq, {at, bytes.size()}};
  return slot.bytes;
}

void value_store::release_below(std::uint64_t first_in_flight) {
  // The newest chunk stays (emptied) when everything in it is released, so a
  // steady flow reuses it instead of allocating.
  while (!chunks_.empty() && chunks_.front().max_seq < first_in_flight) {
    if (chunks_.size() == 1) {
      chunk& c = chunks_.front();
      if (c.size == chunk_bytes_ && c.data.use_count() == 1) {
        c.used = 0;
        c.max_seq = 0;
        return;
      }
    }
    chunks_.pop_front();
  }
}

std::vector<value_store::chunk_ref> value_store::share() const {
  std::vector<chunk_ref> out;
  out.reserve(chunks_.size());
  for (const chunk& c : chunks_) out.push_back(c.data);
  return out;
}

std::size_t value_store::bytes_held() const noexcept {
  std::size_t n = 0;
  for (const chunk& c : chunks_) n += c.size;
  return n;
}

}  // namespace tg::kafka
