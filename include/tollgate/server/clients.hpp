// SPDX-License-Identifier: Apache-2.0
// Client names for the per-client metrics: the names of the tokens file and
// the subject CNs of client certificates (mTLS), each given a stable slot the
// first time it is seen, for the life of the process (a reload that renames
// a client adds a slot; counters never move between labels). The number of
// slots is bounded (max_clients): past it, names share the `_other` slot, so
// a CA that issues many certificates cannot grow the /metrics page.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "tollgate/metrics/counter.hpp"

namespace tg::server {

inline constexpr std::size_t max_clients = 256;

class client_registry {
 public:
  static constexpr std::uint16_t other = max_clients;  // the shared slot past the bound
  static constexpr std::uint16_t none = 0xffff;        // no client name (no token, no certificate)

  // The slot of `name`, added when new. Any thread (a mutex: called when a
  // tokens file is read and once per client-certificate handshake, never per
  // request).
  std::uint16_t intern(std::string_view name);
  // Slots in use; names(i) for i below it are fixed and readable by any thread.
  std::size_t size() const noexcept { return n_.load(std::memory_order_acquire); }
  std::string_view name(std::size_t i) const noexcept { return names_[i]; }

 private:
  std::mutex m_;
  std::array<std::string, max_clients> names_;
  std::atomic<std::size_t> n_{0};
};

// One shard's counters per client slot (slot `other` last).
struct client_counters {
  metrics::counter requests;    // /api/ requests answered (accepted or refused)
  metrics::counter events;      // events accepted
  metrics::counter rejections;  // requests refused (4xx, 5xx)
};

}  // namespace tg::server
