// SPDX-License-Identifier: Apache-2.0
// CRC32C two ways: SSE4.2's crc32 instruction eight bytes at a time (about
// 8 bytes per cycle-ish on one dependency chain, plenty for a disk-bound
// spool), and slicing-by-8 tables built at compile time for other targets.
#include "tollgate/spool/crc32c.hpp"

#include <array>
#include <cstring>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace tg::spool {
namespace {

constexpr std::uint32_t poly = 0x82F63B78u;  // Castagnoli, reflected

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[0][i] = c;
  }
  for (std::size_t s = 1; s < 8; ++s)
    for (std::size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

constexpr auto tables = make_tables();

}  // namespace

std::uint32_t crc32c_portable(const void* data, std::size_t n, std::uint32_t crc) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = ~crc;
  while (n >= 8) {
    // Little-endian load: the slicing tables assume the first byte is lowest.
    const std::uint32_t lo = c ^ (std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
                                  std::uint32_t{p[3]} << 24);
    const std::uint32_t hi =
        std::uint32_t{p[4]} | std::uint32_t{p[5]} << 8 | std::uint32_t{p[6]} << 16 | std::uint32_t{p[7]} << 24;
    c = tables[7][lo & 0xFF] ^ tables[6][(lo >> 8) & 0xFF] ^ tables[5][(lo >> 16) & 0xFF] ^ tables[4][lo >> 24] ^
        tables[3][hi & 0xFF] ^ tables[2][(hi >> 8) & 0xFF] ^ tables[1][(hi >> 16) & 0xFF] ^ tables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ tables[0][(c ^ *p++) & 0xFF];
  return ~c;
}

#if defined(__SSE4_2__) && defined(__x86_64__)
namespace {
// The crc32 instruction has a latency of three cycles and a throughput of
// one: one stream of it runs at a third of the speed the core can. So a long
// enough input is cut into three interleaved streams of `stream_bytes` each,
// run side by side, then joined. The CRC register's update over zero bytes
// is linear, so R(s, A|B|C) = Z2(R(s, A)) ^ Z1(R(0, B)) ^ R(0, C), where Z1
// and Z2 run the register over one and two streams' worth of zeros; each is a
// table per register byte.
constexpr std::size_t stream_bytes = 64;

struct zero_shift {
  std::uint32_t t[4][256];
  explicit zero_shift(std::size_t zeros) {
    for (unsigned k = 0; k < 4; ++k) {
      for (std::uint32_t b = 0; b < 256; ++b) {
        std::uint64_t c = std::uint64_t{b} << (8 * k);
        for (std::size_t i = 0; i < zeros / 8; ++i) c = _mm_crc32_u64(c, 0);
        t[k][b] = static_cast<std::uint32_t>(c);
      }
    }
  }
  std::uint32_t operator()(std::uint32_t c) const noexcept {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
  }
};

const zero_shift& shift_one() {
  static const zero_shift z(stream_bytes);
  return z;
}
const zero_shift& shift_two() {
  static const zero_shift z(2 * stream_bytes);
  return z;
}

inline std::uint64_t load64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);  // unaligned-safe; compiles to one load
  return v;
}
}  // namespace
#endif

std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc) noexcept {
#if defined(__SSE4_2__) && defined(__x86_64__)
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  if (n >= 3 * stream_bytes) {
    const zero_shift& z1 = shift_one();
    const zero_shift& z2 = shift_two();
    while (n >= 3 * stream_bytes) {
      std::uint64_t c0 = c, c1 = 0, c2 = 0;
      for (std::size_t i = 0; i < stream_bytes; i += 8) {
        c0 = _mm_crc32_u64(c0, load64(p + i));
        c1 = _mm_crc32_u64(c1, load64(p + stream_bytes + i));
        c2 = _mm_crc32_u64(c2, load64(p + 2 * stream_bytes + i));
      }
      c = z2(static_cast<std::uint32_t>(c0)) ^ z1(static_cast<std::uint32_t>(c1)) ^ static_cast<std::uint32_t>(c2);
      p += 3 * stream_bytes;
      n -= 3 * stream_bytes;
    }
  }
  while (n >= 8) {
    c = _mm_crc32_u64(c, load64(p));
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
#else
  return crc32c_portable(data, n, crc);
#endif
}

}  // namespace tg::spool
