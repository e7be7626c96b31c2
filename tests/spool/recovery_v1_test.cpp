// SPDX-License-Identifier: Apache-2.0
// Version-1 segments (left by an earlier tollgate) recover and replay as they
// always did: the old writer's own file, torn tails cut without a copy,
// damage quarantined from the damaged record to the end. Where the bytes
// tell a damaged length from a cut write (the record after it, a shorter
// length whose CRC matches, a wrong sequence number), it is damage and is
// copied before the cut.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/segment_reader.hpp"
#include "v1_segment.hpp"

using namespace tg::spool;
using spool_test::temp_dir;

namespace {

std::string payload(int i) { return "{\"id\":\"" + std::to_string(i) + "\",\"source\":\"old\"}"; }
std::vector<std::string> payloads(int n) {
  std::vector<std::string> v;
  for (int i = 1; i <= n; ++i) v.push_back(payload(i));
  return v;
}
const std::size_t fp = record_footprint_v1(payload(1).size());
std::size_t offset_of_record(int index0) { return segment_header_bytes + static_cast<std::size_t>(index0) * fp; }

std::vector<char> slice(const std::vector<char>& b, std::size_t from, std::size_t to) {
  return {b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(to)};
}

struct rec {
  std::uint64_t seq;
  std::string bytes;
  bool operator==(const rec&) const = default;
};

std::vector<rec> replayed(const std::string& path) {
  segment_reader r;
  REQUIRE(r.open(path, 0));
  std::vector<rec> out;
  auto st = r.read(std::numeric_limits<std::uint64_t>::max(), [&](std::uint64_t seq, std::span<const char> p) {
    out.push_back({seq, std::string(p.data(), p.size())});
    return true;
  });
  REQUIRE(st);
  CHECK(*st == segment_reader::stop::end);
  return out;
}

}  // namespace

TEST_CASE("the version 1 writer's segment recovers clean and replays every record") {
  temp_dir d;
  const auto fixture = spool_test::read_file(spool_test::v1_fixture_path());
  REQUIRE_FALSE(fixture.empty());
  const std::string path = d / segment_file_name(2);
  spool_test::write_file(path, fixture);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::clean);
  REQUIRE(rep->header);
  CHECK(rep->header->version == 1);
  CHECK(rep->header->shard == 3);
  CHECK(rep->record_count == 12);
  CHECK(rep->first_seq() == 5);
  CHECK(rep->last_seq() == 16);
  CHECK(spool_test::read_file(path) == fixture);
  std::vector<rec> expected;
  for (int i = 0; i < 12; ++i) expected.push_back({5u + static_cast<unsigned>(i), spool_test::v1_fixture_payload(i)});
  CHECK(replayed(path) == expected);
  // From a record boundary in the middle too.
  segment_reader r;
  REQUIRE(r.open(path, rep->records[7].offset));
  std::vector<std::uint64_t> seqs;
  REQUIRE(r.read(~std::uint64_t{0}, [&](std::uint64_t s, std::span<const char>) {
    seqs.push_back(s);
    return true;
  }));
  CHECK(seqs == std::vector<std::uint64_t>{12, 13, 14, 15, 16});
}

TEST_CASE("a version 1 torn tail at every byte of the last record is cut without a copy") {
  temp_dir d;
  const auto full = spool_test::v1_segment(0, 1, 1, payloads(3));
  const std::string path = d / segment_file_name(1);
  const std::size_t last = offset_of_record(2);
  for (std::size_t cut = last; cut < full.size(); ++cut) {
    CAPTURE(cut);
    spool_test::write_file(path, slice(full, 0, cut));
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == (cut == last ? outcome::clean : outcome::torn));
    CHECK(rep->record_count == 2);
    CHECK(rep->valid_end == last);
    CHECK(rep->torn_bytes == cut - last);
    CHECK(spool_test::read_file(path).size() == last);
    CHECK_FALSE(spool_test::exists(path + ".corrupt"));
  }
}

TEST_CASE("a flipped bit in a version 1 record quarantines the rest of the segment, as it always did") {
  temp_dir d;
  const auto full = spool_test::v1_segment(0, 1, 1, payloads(5));
  const std::string path = d / segment_file_name(1);
  const std::size_t mid = offset_of_record(2);
  // CRC, sequence number and payload (a longer length may read as torn: see below).
  for (std::size_t bit = (mid + 4) * 8; bit < (mid + record_header_bytes_v1 + payload(3).size()) * 8; bit += 7) {
    CAPTURE(bit);
    auto bytes = full;
    bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
    spool_test::write_file(path, bytes);
    ::unlink((path + ".corrupt").c_str());
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::corrupt);
    CHECK(rep->record_count == 2);
    CHECK(rep->valid_end == mid);
    CHECK(rep->cut_bytes == full.size() - mid);
    REQUIRE(rep->damaged.size() == 1);
    CHECK(rep->damaged[0].offset == mid);
    CHECK(spool_test::read_file(path).size() == mid);
    const auto q = spool_test::read_file(path + ".corrupt");
    REQUIRE(q.size() == bytes.size());
    CHECK(slice(q, mid, q.size()) == slice(bytes, mid, bytes.size()));
  }
}

TEST_CASE("a version 1 record with the wrong sequence number ends the segment's valid records") {
  temp_dir d;
  auto a = spool_test::v1_segment(0, 1, 1, payloads(2));
  const auto b = spool_test::v1_segment(0, 1, 10, {payload(9)});
  a.insert(a.end(), b.begin() + segment_header_bytes, b.end());
  spool_test::write_file(d / segment_file_name(1), a);
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 2);
}

TEST_CASE("a version 1 length pointing past the end is damage where the bytes show it") {
  temp_dir d;
  const auto full = spool_test::v1_segment(0, 1, 1, payloads(5));
  const std::string path = d / segment_file_name(1);
  auto set_len = [](std::vector<char>& b, std::size_t at, std::uint32_t len) { std::memcpy(b.data() + at, &len, 4); };
  SUBCASE("a record after it: quarantined with everything from it on, never dropped") {
    auto bytes = full;
    set_len(bytes, offset_of_record(1), 4000);
    spool_test::write_file(path, bytes);
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::corrupt);
    CHECK(rep->torn_bytes == 0);
    CHECK(rep->record_count == 1);
    CHECK(slice(spool_test::read_file(path + ".corrupt"), offset_of_record(1), bytes.size()) ==
          slice(bytes, offset_of_record(1), bytes.size()));
  }
  SUBCASE("the last record, complete under its real length: damage") {
    auto bytes = full;
    set_len(bytes, offset_of_record(4), 4000);
    spool_test::write_file(path, bytes);
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::corrupt);
    CHECK(rep->record_count == 4);
    CHECK(spool_test::exists(path + ".corrupt"));
  }
  SUBCASE("the sequence number of a cut record is not the next one: damage") {
    auto bytes = slice(full, 0, offset_of_record(4) + 20);  // record 5 cut inside its payload
    const std::uint64_t wrong = 77;
    std::memcpy(bytes.data() + offset_of_record(4) + 8, &wrong, 8);
    spool_test::write_file(path, bytes);
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::corrupt);
    CHECK(spool_test::exists(path + ".corrupt"));
  }
}

TEST_CASE("a version 1 segment and a version 2 segment replay side by side in one directory") {
  temp_dir d;
  spool_test::write_file(d / segment_file_name(1), spool_test::v1_segment(0, 1, 1, payloads(3)));
  std::vector<char> v2(segment_header_bytes);
  encode_header({format_version, 0, 2, 4}, std::span<char, segment_header_bytes>(v2.data(), segment_header_bytes));
  for (int i = 4; i <= 6; ++i) {
    const std::size_t at = v2.size();
    v2.resize(at + record_footprint(payload(i).size()));
    encode_record(std::span<char>(v2.data() + at, v2.size() - at), static_cast<std::uint64_t>(i), payload(i));
  }
  spool_test::write_file(d / segment_file_name(2), v2);
  std::vector<std::uint64_t> seqs;
  for (std::uint64_t n : {1, 2}) {
    auto rep = recover_segment(d / segment_file_name(n), {.max_payload = max_payload_limit, .last_segment = n == 2});
    REQUIRE(rep);
    CHECK(rep->result == outcome::clean);
    for (const rec& r : replayed(d / segment_file_name(n))) {
      CHECK(r.bytes == payload(static_cast<int>(r.seq)));
      seqs.push_back(r.seq);
    }
  }
  CHECK(seqs == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6});
}
