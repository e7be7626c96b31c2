// SPDX-License-Identifier: Apache-2.0
// File names, listing order, and which new shard replays which old directory
// after a change of --shards.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/layout.hpp"

using namespace tg::spool;
using spool_test::temp_dir;
using u32s = std::vector<std::uint32_t>;

TEST_CASE("segment file names carry 16 lower-case hex digits and parse strictly") {
  CHECK(segment_file_name(42) == "segment-000000000000002a.log");
  CHECK(parse_segment_file_name("segment-000000000000002a.log") == 42u);
  CHECK(parse_segment_file_name(segment_file_name(~std::uint64_t{0})) == ~std::uint64_t{0});
  CHECK_FALSE(parse_segment_file_name("segment-000000000000002A.log"));
  CHECK_FALSE(parse_segment_file_name("segment-000000000000002a.log.corrupt"));
  CHECK_FALSE(parse_segment_file_name("segment-00000000000002a.log"));
  CHECK_FALSE(parse_segment_file_name("segment-00000000000000g2.log"));
  CHECK_FALSE(parse_segment_file_name("acked"));
}

TEST_CASE("shard directory names parse as canonical decimals") {
  CHECK(shard_dir_name(7) == "shard-7");
  CHECK(parse_shard_dir_name("shard-0") == 0u);
  CHECK(parse_shard_dir_name("shard-4294967295") == 4294967295u);
  CHECK_FALSE(parse_shard_dir_name("shard-4294967296"));
  CHECK_FALSE(parse_shard_dir_name("shard-"));
  CHECK_FALSE(parse_shard_dir_name("shard-01"));
  CHECK_FALSE(parse_shard_dir_name("shard-1a"));
  CHECK_FALSE(parse_shard_dir_name("shard7"));
}

TEST_CASE("segments list in sequence order and ignore other files") {
  temp_dir d;
  for (std::uint64_t s : {std::uint64_t{0x100}, std::uint64_t{3}, std::uint64_t{0x20}, std::uint64_t{1}})
    spool_test::write_file(d / segment_file_name(s), {});
  spool_test::write_file(d / (segment_file_name(2) + ".corrupt"), {'x'});
  spool_test::write_file(d / "acked", {});
  auto segs = list_segments(d.path());
  REQUIRE(segs);
  std::vector<std::uint64_t> seqs;
  for (const auto& s : *segs) seqs.push_back(s.seq);
  CHECK(seqs == std::vector<std::uint64_t>{1, 3, 0x20, 0x100});
  CHECK(segs->front().path == d / segment_file_name(1));
  CHECK_FALSE(list_segments(d / "missing"));
}

TEST_CASE("shard directories list ascending, and a missing spool directory is empty") {
  temp_dir d;
  for (const char* n : {"shard-10", "shard-2", "shard-0", "other", "shard-x"}) ::mkdir((d / n).c_str(), 0700);
  auto ids = list_shard_dirs(d.path());
  REQUIRE(ids);
  CHECK(*ids == u32s{0, 2, 10});
  auto none = list_shard_dirs(d / "not-yet");
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("old shard directories are replayed by old id modulo the new shard count") {
  SUBCASE("fewer shards") {
    const auto a = assign_dirs({0, 1, 2, 3, 4, 5, 6, 7}, 3);
    REQUIRE(a.size() == 3);
    CHECK(a[0] == u32s{0, 3, 6});
    CHECK(a[1] == u32s{1, 4, 7});
    CHECK(a[2] == u32s{2, 5});
  }
  SUBCASE("more shards: each keeps its own, the new ones start empty") {
    const auto a = assign_dirs({1, 0}, 4);
    CHECK(a == std::vector<u32s>{{0}, {1}, {}, {}});
  }
  SUBCASE("gaps and duplicates in the old ids") {
    const auto a = assign_dirs({9, 4, 9}, 2);
    CHECK(a == std::vector<u32s>{{4}, {9}});
  }
  SUBCASE("every old directory is assigned exactly once") {
    u32s old;
    for (std::uint32_t i = 0; i < 37; ++i) old.push_back(i * 3);
    for (std::uint32_t n = 1; n <= 16; ++n) {
      std::size_t total = 0;
      for (const auto& v : assign_dirs(old, n)) total += v.size();
      CHECK(total == old.size());
    }
  }
  CHECK(assign_dirs({1, 2}, 0).empty());
}
