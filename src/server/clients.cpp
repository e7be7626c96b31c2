// SPDX-License-Identifier: Apache-2.0
// The client registry: names are appended under a mutex and published with a
// release store of the count, so readers (the /metrics page on any shard)
// read the names below the count without a lock.
#include "tollgate/server/clients.hpp"

namespace tg::server {

std::uint16_t client_registry::intern(std::string_view name) {
  std::lock_guard<std::mutex> lock(m_);
  const std::size_t n = n_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    if (names_[i] == name) return static_cast<std::uint16_t>(i);
  }
  if (n == max_clients) return other;
  names_[n] = std::string(name);
  n_.store(n + 1, std::memory_order_release);
  return static_cast<std::uint16_t>(n);
}

}  // namespace tg::server
