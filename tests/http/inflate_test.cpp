// SPDX-License-Identifier: Apache-2.0
// http::inflate: each coding round-trips (compressed here with zlib and
// libzstd, independent encoders), the bound holds exactly, bombs stop at it,
// and corrupt or truncated streams get a detail that says what is wrong.
#include <doctest/doctest.h>
#include <zlib.h>
#include <zstd.h>

#include <string>

#include "tollgate/http/inflate.hpp"
#include "tollgate/http/request_parser.hpp"

using namespace tg::http;

namespace {

std::string zlib_compress(const std::string& in, int window_bits, int level = 6) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
std::string gzip(const std::string& in) { return zlib_compress(in, 31); }
std::string zlib(const std::string& in) { return zlib_compress(in, 15); }
std::string zst(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

std::string events(std::size_t bytes) {
  std::string s = "[";
  for (int i = 0; s.size() < bytes; ++i) {
    if (i) s += ",";
    s += R"({"specversion":"1.0","id":"e-)" + std::to_string(i * 7919) +
         R"(","source":"s","type":"t","subject":"c-)" + std::to_string(i % 97) + R"("})";
  }
  return s + "]";
}

bool padded(const inflated_body& b) {
  for (std::size_t i = 0; i < body_padding; ++i)
    if (b.bytes[b.size + i] != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("Content-Encoding values map to codings, case-insensitively") {
  CHECK(parse_content_encoding("").value() == coding::identity);
  CHECK(parse_content_encoding(" identity ").value() == coding::identity);
  CHECK(parse_content_encoding("GZIP").value() == coding::gzip);
  CHECK(parse_content_encoding("x-gzip").value() == coding::gzip);
  CHECK(parse_content_encoding("deflate").value() == coding::deflate);
  CHECK(parse_content_encoding("zstd").value() == coding::zstd);
}

TEST_CASE("an unsupported or stacked Content-Encoding names the value and the supported codings") {
  auto br = parse_content_encoding("br");
  REQUIRE(!br);
  CHECK(br.error().find("\"br\"") != std::string::npos);
  CHECK(br.error().find("gzip, deflate, zstd") != std::string::npos);
  auto two = parse_content_encoding("gzip, zstd");
  REQUIRE(!two);
  CHECK(two.error().find("several") != std::string::npos);
  auto ctl = parse_content_encoding("a\x01z");
  REQUIRE(!ctl);
  CHECK(ctl.error().find('\x01') == std::string::npos);
}

TEST_CASE("gzip, deflate and zstd bodies inflate to the original bytes, padded with zeros") {
  const std::string original = events(200000);
  inflater inf;
  inflated_body out;
  for (auto [c, z] : {std::pair{coding::gzip, gzip(original)}, std::pair{coding::deflate, zlib(original)},
                      std::pair{coding::zstd, zst(original)}}) {
    CAPTURE(static_cast<int>(c));
    auto r = inf.run(c, z, 4u << 20, out);
    REQUIRE(r);
    CHECK(*r == original.size());
    CHECK(out.view() == original);
    CHECK(padded(out));
  }
}

TEST_CASE("a body that inflates to exactly the bound is taken; one byte more is too large") {
  const std::string original = events(50000);
  inflater inf;
  inflated_body out;
  for (auto [c, z] : {std::pair{coding::gzip, gzip(original)}, std::pair{coding::deflate, zlib(original)},
                      std::pair{coding::zstd, zst(original)}}) {
    CAPTURE(static_cast<int>(c));
    CHECK(inf.run(c, z, original.size(), out));
    auto r = inf.run(c, z, original.size() - 1, out);
    REQUIRE(!r);
    CHECK(r.error().code == inflate_errc::too_large);
    CHECK(r.error().detail.find("--max-body-bytes") != std::string::npos);
  }
}

TEST_CASE("a decompression bomb stops at the bound without allocating past it") {
  const std::string zeros(64u << 20, '0');  // 64 MiB of one byte: ~64 KiB of gzip, ~2 KiB of zstd
  const std::string g = gzip(zeros), z = zst(zeros);
  CHECK(g.size() < 100000);
  inflater inf;
  for (auto [c, s] : {std::pair{coding::gzip, g}, std::pair{coding::zstd, z}}) {
    inflated_body out;
    auto r = inf.run(c, s, 1u << 20, out);
    REQUIRE(!r);
    CHECK(r.error().code == inflate_errc::too_large);
    CHECK(out.capacity <= (1u << 20) + 1 + body_padding);
  }
}

TEST_CASE("concatenated gzip members are one body") {
  inflater inf;
  inflated_body out;
  const std::string two = gzip("[{\"a\":1},") + gzip("{\"b\":2}]");
  auto r = inf.run(coding::gzip, two, 1024, out);
  REQUIRE(r);
  CHECK(out.view() == "[{\"a\":1},{\"b\":2}]");
}

TEST_CASE("corrupt, truncated and mislabelled streams are errors that say what is wrong") {
  const std::string original = events(20000);
  inflater inf;
  inflated_body out;
  auto corrupt = [&](coding c, const std::string& in) {
    auto r = inf.run(c, in, 1u << 20, out);
    REQUIRE(!r);
    CHECK(r.error().code == inflate_errc::corrupt);
    return r.error().detail;
  };
  const std::string g = gzip(original);
  CHECK(corrupt(coding::gzip, original).find("invalid header") != std::string::npos);  // not compressed at all
  CHECK(corrupt(coding::gzip, g.substr(0, g.size() / 2)).find("truncated") != std::string::npos);
  std::string bad_crc = g;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  CHECK(corrupt(coding::gzip, bad_crc).find("checksum") != std::string::npos);
  CHECK(corrupt(coding::gzip, g + "junk").find("after the end") != std::string::npos);
  CHECK(corrupt(coding::deflate, g).find("deflate") != std::string::npos);  // gzip sent as deflate
  CHECK(corrupt(coding::gzip, "").find("empty") != std::string::npos);
  const std::string z = zst(original);
  CHECK(corrupt(coding::zstd, z.substr(0, z.size() - 10)).find("truncated") != std::string::npos);
  CHECK(corrupt(coding::zstd, "not zstd at all").find("zstd") != std::string::npos);
}

TEST_CASE("identity copies within the bound") {
  inflater inf;
  inflated_body out;
  CHECK(inf.run(coding::identity, "abc", 3, out));
  CHECK(out.view() == "abc");
  CHECK(!inf.run(coding::identity, "abcd", 3, out));
}
