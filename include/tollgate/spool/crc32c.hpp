// SPDX-License-Identifier: Apache-2.0
// CRC32C (Castagnoli), the checksum on every spool record and header. It is
// the one iSCSI, ext4 and Kafka use, and x86 computes it in hardware, so
// checking every record at replay costs little next to reading it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg::spool {

// CRC32C of n bytes, extending `crc` (the result of an earlier call over the
// bytes before these; 0 to start): crc32c(b, crc32c(a)) == crc32c(a + b).
// Uses SSE4.2's crc32 instruction when compiled for it, the table otherwise.
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0) noexcept;

// The slicing-by-8 table version, always available; exposed so tests can
// check the fast path against it on any byte pattern.
std::uint32_t crc32c_portable(const void* data, std::size_t n, std::uint32_t crc = 0) noexcept;

}  // namespace tg::spool
