// SPDX-License-Identifier: Apache-2.0
// Start-up recovery on real files: a crash cut at every byte of the last
// record, a flipped bit in the middle, damaged headers, newer formats, and
// the guarantee that nothing valid is lost and nothing damaged is deleted.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/segment_writer.hpp"

using namespace tg::spool;
using spool_test::temp_dir;

namespace {

std::string payload(int i) { return "{\"id\":\"" + std::to_string(i) + "\",\"source\":\"test\"}"; }

// Writes `n` records (seq 1..n) into segment 1 of dir; returns the file's bytes.
std::vector<char> make_segment(const temp_dir& dir, int n) {
  auto w = segment_writer::create(dir.path(), 0, 1, 1);
  REQUIRE(w);
  for (int i = 1; i <= n; ++i) REQUIRE(w->append(payload(i)));
  REQUIRE(w->sync());
  return spool_test::read_file(dir / segment_file_name(1));
}

std::size_t offset_of_record(int index0) {  // every payload(i) for 1..9 has the same length
  return segment_header_bytes + static_cast<std::size_t>(index0) * record_footprint(payload(1).size());
}

}  // namespace

TEST_CASE("recovery keeps a clean segment as it is") {
  temp_dir d;
  const auto bytes = make_segment(d, 5);
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  CHECK(rep->result == outcome::clean);
  REQUIRE(rep->header);
  CHECK(rep->header->first_seq == 1);
  REQUIRE(rep->records.size() == 5);
  CHECK(rep->first_seq() == 1);
  CHECK(rep->last_seq() == 5);
  CHECK(rep->records[2].offset == offset_of_record(2));
  CHECK(rep->records[2].length == payload(3).size());
  CHECK(rep->valid_end == bytes.size());
  CHECK(spool_test::read_file(d / segment_file_name(1)) == bytes);
}

TEST_CASE("a torn tail at every byte offset of the last record is cut back to the clean prefix") {
  temp_dir d;
  const auto full = make_segment(d, 3);
  const std::size_t last = offset_of_record(2);
  REQUIRE(full.size() == offset_of_record(3));
  const std::string path = d / segment_file_name(1);
  for (std::size_t cut = last; cut < full.size(); ++cut) {
    CAPTURE(cut);
    spool_test::write_file(path, std::vector<char>(full.begin(), full.begin() + static_cast<long>(cut)));
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == (cut == last ? outcome::clean : outcome::torn));
    CHECK(rep->records.size() == 2);
    CHECK(rep->valid_end == last);
    CHECK(rep->cut_bytes == cut - last);
    CHECK(spool_test::read_file(path).size() == last);
    CHECK_FALSE(spool_test::exists(path + ".corrupt"));
    // Recovering again finds a clean segment: the cut is idempotent.
    auto again = recover_segment(path);
    REQUIRE(again);
    CHECK(again->result == outcome::clean);
  }
}

TEST_CASE("a flipped bit in the middle record quarantines the rest into .corrupt") {
  temp_dir d;
  const auto full = make_segment(d, 5);
  const std::string path = d / segment_file_name(1);
  const std::size_t mid = offset_of_record(2);
  // Every bit of the CRC, sequence number and payload of record 3 (not the
  // length: a longer length can read as a torn tail, the one ambiguity of
  // length-prefixed framing; not the padding, which the CRC does not cover).
  const std::size_t from = mid + 4, to = mid + record_header_bytes + payload(3).size();
  for (std::size_t bit = from * 8; bit < to * 8; bit += 7) {
    CAPTURE(bit);
    auto bytes = full;
    bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
    spool_test::write_file(path, bytes);
    ::unlink((path + ".corrupt").c_str());  // each round is a fresh crash
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::corrupt);
    CHECK(rep->records.size() == 2);
    CHECK(rep->valid_end == mid);
    CHECK(rep->cut_bytes == full.size() - mid);
    CHECK(spool_test::read_file(path).size() == mid);
    const auto quarantined = spool_test::read_file(path + ".corrupt");
    CHECK(quarantined == std::vector<char>(bytes.begin() + static_cast<long>(mid), bytes.end()));
  }
}

TEST_CASE("a record with a valid CRC but the wrong sequence number counts as damage") {
  temp_dir d;
  make_segment(d, 2);
  // A second directory's segment numbered from 10: splice its record in.
  temp_dir other;
  auto w = segment_writer::create(other.path(), 0, 1, 10);
  REQUIRE(w);
  REQUIRE(w->append(payload(9)));
  REQUIRE(w->flush());
  auto a = spool_test::read_file(d / segment_file_name(1));
  const auto b = spool_test::read_file(other / segment_file_name(1));
  a.insert(a.end(), b.begin() + segment_header_bytes, b.end());
  spool_test::write_file(d / segment_file_name(1), a);
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->records.size() == 2);
}

TEST_CASE("an incomplete record in an older segment is quarantined, not truncated") {
  temp_dir d;
  const auto full = make_segment(d, 3);
  const std::string path = d / segment_file_name(1);
  spool_test::write_file(path, std::vector<char>(full.begin(), full.end() - 5));
  auto rep = recover_segment(path, {.max_payload = max_payload_limit, .last_segment = false});
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->records.size() == 2);
  CHECK(spool_test::exists(path + ".corrupt"));
}

TEST_CASE("a damaged header quarantines the whole segment") {
  temp_dir d;
  auto bytes = make_segment(d, 2);
  bytes[20] = static_cast<char>(bytes[20] ^ 0x10);
  const std::string path = d / segment_file_name(1);
  spool_test::write_file(path, bytes);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK_FALSE(rep->header);
  CHECK(rep->valid_end == 0);
  CHECK(spool_test::read_file(path).empty());
  CHECK(spool_test::read_file(path + ".corrupt") == bytes);
}

TEST_CASE("a segment whose header never fully landed is cut to empty") {
  temp_dir d;
  const auto bytes = make_segment(d, 1);
  const std::string path = d / segment_file_name(1);
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, segment_header_bytes - 1}) {
    spool_test::write_file(path, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == (cut == 0 ? outcome::clean : outcome::torn));
    CHECK_FALSE(rep->header);
    CHECK(spool_test::read_file(path).empty());
  }
}

TEST_CASE("a segment of a newer format is refused and left untouched") {
  temp_dir d;
  auto bytes = make_segment(d, 2);
  char hdr[segment_header_bytes];
  encode_header({format_version + 1, 0, 1, 1}, std::span<char, segment_header_bytes>(hdr, segment_header_bytes));
  std::copy(hdr, hdr + segment_header_bytes, bytes.begin());
  bytes.push_back('x');  // would be torn under version 1
  const std::string path = d / segment_file_name(1);
  spool_test::write_file(path, bytes);
  auto rep = recover_segment(path);
  REQUIRE_FALSE(rep);
  CHECK(rep.error().code == errc::unsupported_version);
  CHECK(spool_test::read_file(path) == bytes);
}

TEST_CASE("zeros after the last record (size grew, data lost) are cut as a torn tail") {
  temp_dir d;
  auto bytes = make_segment(d, 2);
  const std::size_t end = bytes.size();
  bytes.resize(end + 8192, 0);
  const std::string path = d / segment_file_name(1);
  spool_test::write_file(path, bytes);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::torn);
  CHECK(rep->valid_end == end);
  CHECK(spool_test::read_file(path).size() == end);
}

TEST_CASE("recovering a missing segment is an I/O error") {
  temp_dir d;
  auto rep = recover_segment(d / "segment-0000000000000009.log");
  REQUIRE_FALSE(rep);
  CHECK(rep.error().code == errc::io);
}

TEST_CASE("an earlier quarantine of the same segment is never overwritten") {
  temp_dir d;
  const auto full = make_segment(d, 5);
  const std::string path = d / segment_file_name(1);
  auto damage = [&](std::size_t record) {
    auto bytes = spool_test::read_file(path);
    bytes[offset_of_record(static_cast<int>(record)) + 20] ^= 1;
    spool_test::write_file(path, bytes);
    return std::vector<char>(bytes.begin() + static_cast<long>(offset_of_record(static_cast<int>(record))), bytes.end());
  };
  const auto first_tail = damage(3);
  REQUIRE(recover_segment(path));
  const auto second_tail = damage(1);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->records.size() == 1);
  CHECK(spool_test::read_file(path + ".corrupt") == first_tail);
  CHECK(spool_test::read_file(path + ".corrupt.1") == second_tail);
  (void)full;
}

TEST_CASE("a recovery interrupted after its copy reuses that copy") {
  temp_dir d;
  auto bytes = make_segment(d, 3);
  const std::string path = d / segment_file_name(1);
  bytes[offset_of_record(1) + 20] ^= 1;
  spool_test::write_file(path, bytes);
  const std::vector<char> tail(bytes.begin() + static_cast<long>(offset_of_record(1)), bytes.end());
  spool_test::write_file(path + ".corrupt", tail);  // as if the crash came before the truncate
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(spool_test::read_file(path + ".corrupt") == tail);
  CHECK_FALSE(spool_test::exists(path + ".corrupt.1"));
}
