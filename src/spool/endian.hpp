// SPDX-License-Identifier: Apache-2.0
// Little-endian loads and stores for the spool format (internal). memcpy keeps
// them alignment-safe; on x86 each is one mov.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace tg::spool::detail {

static_assert(std::endian::native == std::endian::little, "the spool format is written in host order on little-endian hosts");

template <class T>
inline T load(const char* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
inline void store(char* p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace tg::spool::detail
