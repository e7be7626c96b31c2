// SPDX-License-Identifier: Apache-2.0
// The persisted acknowledged position: round trip, a missing file (0), a
// damaged file (0, flagged), and atomic replacement leaving no temp file.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/ack_file.hpp"

using namespace tg::spool;
using spool_test::temp_dir;

TEST_CASE("ack file round-trips the acknowledged position") {
  temp_dir d;
  for (std::uint64_t v : {std::uint64_t{1}, std::uint64_t{12345}, ~std::uint64_t{0}, std::uint64_t{0}}) {
    REQUIRE(write_ack_file(d.path(), v));
    auto p = read_ack_file(d.path());
    REQUIRE(p);
    CHECK(p->state == ack_state::ok);
    CHECK(p->acked == v);
  }
  CHECK_FALSE(spool_test::exists(d / "acked.tmp"));
  CHECK(spool_test::read_file(d / ack_file_name).size() == ack_file_bytes);
}

TEST_CASE("a non-durable write still replaces the position atomically and leaves no temp file") {
  temp_dir d;
  REQUIRE(write_ack_file(d.path(), 100));
  for (std::uint64_t v : {std::uint64_t{101}, std::uint64_t{7}, ~std::uint64_t{0}}) {
    CAPTURE(v);
    REQUIRE(write_ack_file(d.path(), v, false));
    auto p = read_ack_file(d.path());
    REQUIRE(p);
    CHECK(p->state == ack_state::ok);
    CHECK(p->acked == v);
    CHECK_FALSE(spool_test::exists(d / "acked.tmp"));
    const auto bytes = spool_test::read_file(d / ack_file_name);
    const auto want = encode_ack(v);
    CHECK(bytes == std::vector<char>(want.begin(), want.end()));
  }
  // A durable write after non-durable ones replaces it as usual.
  REQUIRE(write_ack_file(d.path(), 5, true));
  auto p = read_ack_file(d.path());
  REQUIRE(p);
  CHECK(p->acked == 5);
  // Without durability, a missing directory is still an error, not silently skipped.
  auto r = write_ack_file(d / "nope", 5, false);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::io);
}

TEST_CASE("a missing ack file reads as nothing acknowledged") {
  temp_dir d;
  auto p = read_ack_file(d.path());
  REQUIRE(p);
  CHECK(p->state == ack_state::missing);
  CHECK(p->acked == 0);
}

TEST_CASE("a damaged ack file reads as 0, flagged corrupt, so everything is replayed") {
  temp_dir d;
  REQUIRE(write_ack_file(d.path(), 999));
  const auto good = spool_test::read_file(d / ack_file_name);
  SUBCASE("every single flipped bit") {
    for (std::size_t bit = 0; bit < 20 * 8; ++bit) {
      auto bytes = good;
      bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
      const auto p = decode_ack(bytes);
      CHECK(p.state == ack_state::corrupt);
      CHECK(p.acked == 0);
    }
  }
  SUBCASE("truncated, empty or too long") {
    for (std::size_t n : {std::size_t{0}, std::size_t{8}, ack_file_bytes - 1}) {
      spool_test::write_file(d / ack_file_name, std::vector<char>(good.begin(), good.begin() + static_cast<long>(n)));
      auto p = read_ack_file(d.path());
      REQUIRE(p);
      CHECK(p->state == ack_state::corrupt);
      CHECK(p->acked == 0);
    }
    auto longer = good;
    longer.push_back('\n');
    CHECK(decode_ack(longer).state == ack_state::corrupt);
  }
}

TEST_CASE("writing the ack file into a missing directory is an I/O error") {
  temp_dir d;
  auto r = write_ack_file(d / "nope", 5);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::io);
  CHECK(r.error().sys == ENOENT);
}
