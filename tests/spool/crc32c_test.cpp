// SPDX-License-Identifier: Apache-2.0
// CRC32C against published vectors (RFC 3720 B.4 and the "123456789" check
// value), the hardware path against the table path, and chaining.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "tollgate/spool/crc32c.hpp"

using namespace tg::spool;

TEST_CASE("crc32c matches the standard check value and RFC 3720 vectors") {
  const std::string check = "123456789";
  std::vector<unsigned char> zeros(32, 0x00), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<unsigned char>(i);
    dec[i] = static_cast<unsigned char>(31 - i);
  }
  for (auto f : {&crc32c, &crc32c_portable}) {
    CHECK(f(check.data(), check.size(), 0) == 0xE3069283u);
    CHECK(f(zeros.data(), zeros.size(), 0) == 0x8A9136AAu);
    CHECK(f(ones.data(), ones.size(), 0) == 0x62A8AB43u);
    CHECK(f(inc.data(), inc.size(), 0) == 0x46DD794Eu);
    CHECK(f(dec.data(), dec.size(), 0) == 0x113FDB5Cu);
    CHECK(f(nullptr, 0, 0) == 0u);
  }
}

TEST_CASE("crc32c fast path agrees with the table at every length and alignment") {
  std::mt19937 rng(7);
  std::vector<unsigned char> buf(4096 + 16);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t off = 0; off < 8; ++off)
    for (std::size_t n = 0; n < 700; ++n) REQUIRE(crc32c(buf.data() + off, n) == crc32c_portable(buf.data() + off, n));
  CHECK(crc32c(buf.data(), 4096) == crc32c_portable(buf.data(), 4096));
  // A running CRC carried into the interleaved path (three streams from 192 bytes on).
  for (std::size_t n : {191u, 192u, 193u, 384u, 1000u}) {
    CHECK(crc32c(buf.data() + 5, n, 0x12345678u) == crc32c_portable(buf.data() + 5, n, 0x12345678u));
  }
}

TEST_CASE("crc32c extends across split buffers") {
  const std::string s = "the quick brown fox jumps over the lazy dog, twice over";
  const std::uint32_t whole = crc32c(s.data(), s.size());
  for (std::size_t cut = 0; cut <= s.size(); ++cut) {
    CHECK(crc32c(s.data() + cut, s.size() - cut, crc32c(s.data(), cut)) == whole);
    CHECK(crc32c_portable(s.data() + cut, s.size() - cut, crc32c_portable(s.data(), cut)) == whole);
  }
}
