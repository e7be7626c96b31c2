// SPDX-License-Identifier: Apache-2.0
// Start-up recovery of version-2 segments on real files: a crash cut at every
// byte of the last record, a flipped bit anywhere in a record (only that
// record is lost), lengths that point past the end, damaged headers, newer
// formats, and the guarantee that nothing valid is lost and nothing damaged
// is deleted without a copy.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/segment_reader.hpp"
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
const std::size_t fp = record_footprint(payload(1).size());

void flip(std::vector<char>& b, std::size_t bit) { b[bit / 8] = static_cast<char>(b[bit / 8] ^ (1 << (bit % 8))); }

// Sequence numbers the replay reader hands out, reading the whole file.
std::vector<std::uint64_t> replayed(const std::string& path) {
  segment_reader r;
  REQUIRE(r.open(path, 0));
  std::vector<std::uint64_t> seqs;
  auto st = r.read(std::numeric_limits<std::uint64_t>::max(), [&](std::uint64_t seq, std::span<const char> p) {
    CHECK(std::string(p.data(), p.size()) == payload(static_cast<int>(seq)));
    seqs.push_back(seq);
    return true;
  });
  REQUIRE(st);
  CHECK(*st == segment_reader::stop::end);
  return seqs;
}

std::vector<std::uint64_t> seqs_except(int n, std::vector<int> lost) {
  std::vector<std::uint64_t> v;
  for (int i = 1; i <= n; ++i)
    if (std::find(lost.begin(), lost.end(), i) == lost.end()) v.push_back(static_cast<std::uint64_t>(i));
  return v;
}

std::vector<char> slice(const std::vector<char>& b, std::size_t from, std::size_t to) {
  return {b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(to)};
}

}  // namespace

TEST_CASE("recovery keeps a clean segment as it is") {
  temp_dir d;
  const auto bytes = make_segment(d, 5);
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  CHECK(rep->result == outcome::clean);
  REQUIRE(rep->header);
  CHECK(rep->header->version == format_version);
  CHECK(rep->header->first_seq == 1);
  REQUIRE(rep->records.size() == 5);
  CHECK(rep->record_count == 5);
  CHECK(rep->first_seq() == 1);
  CHECK(rep->last_seq() == 5);
  CHECK(rep->records[2].offset == offset_of_record(2));
  CHECK(rep->records[2].length == payload(3).size());
  CHECK(rep->valid_end == bytes.size());
  CHECK(rep->damaged.empty());
  CHECK(rep->missing_seqs == 0);
  CHECK(spool_test::read_file(d / segment_file_name(1)) == bytes);
}

TEST_CASE("without the record list the report still says where replay resumes") {
  temp_dir d;
  make_segment(d, 5);
  recover_options o;
  o.keep_records = false;
  o.acked = 3;
  auto rep = recover_segment(d / segment_file_name(1), o);
  REQUIRE(rep);
  CHECK(rep->records.empty());
  CHECK(rep->record_count == 5);
  CHECK(rep->last_seq() == 5);
  CHECK(rep->resume_offset == offset_of_record(3));
  o.acked = 5;
  rep = recover_segment(d / segment_file_name(1), o);
  REQUIRE(rep);
  CHECK(rep->resume_offset == 0);
}

TEST_CASE("a torn tail at every byte offset of the last record is cut back to the clean prefix") {
  temp_dir d;
  const auto full = make_segment(d, 3);
  const std::size_t last = offset_of_record(2);
  REQUIRE(full.size() == offset_of_record(3));
  const std::string path = d / segment_file_name(1);
  for (std::size_t cut = last; cut < full.size(); ++cut) {
    CAPTURE(cut);
    spool_test::write_file(path, slice(full, 0, cut));
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == (cut == last ? outcome::clean : outcome::torn));
    CHECK(rep->records.size() == 2);
    CHECK(rep->valid_end == last);
    CHECK(rep->cut_bytes == cut - last);
    CHECK(rep->torn_bytes == cut - last);
    CHECK(spool_test::read_file(path).size() == last);
    CHECK_FALSE(spool_test::exists(path + ".corrupt"));
    // Recovering again finds a clean segment: the cut is idempotent.
    auto again = recover_segment(path);
    REQUIRE(again);
    CHECK(again->result == outcome::clean);
  }
}

TEST_CASE("a flipped bit anywhere in a record loses that record only") {
  temp_dir d;
  const auto full = make_segment(d, 5);
  const std::string path = d / segment_file_name(1);
  const std::size_t mid = offset_of_record(2);
  // Every bit of record 3's marker, length, sequence number, CRCs and
  // payload (not its padding, which no CRC covers and nothing reads).
  const std::size_t from = mid, to = mid + record_header_bytes + payload(3).size();
  for (std::size_t bit = from * 8; bit < to * 8; bit += 5) {
    CAPTURE(bit);
    auto bytes = full;
    flip(bytes, bit);
    spool_test::write_file(path, bytes);
    ::unlink((path + ".corrupt").c_str());  // each round is a fresh crash
    auto rep = recover_segment(path);
    REQUIRE(rep);
    CHECK(rep->result == outcome::corrupt);
    CHECK(rep->record_count == 4);
    CHECK(rep->missing_seqs == 1);
    REQUIRE(rep->damaged.size() == 1);
    CHECK(rep->damaged[0].offset == mid);
    CHECK(rep->damaged[0].bytes == fp);
    CHECK(rep->quarantined_bytes == fp);
    CHECK(rep->valid_end == full.size());
    // The damaged bytes are in .corrupt at their offset; the rest of it is a hole.
    const auto quarantined = spool_test::read_file(path + ".corrupt");
    REQUIRE(quarantined.size() == mid + fp);
    CHECK(slice(quarantined, mid, mid + fp) == slice(bytes, mid, mid + fp));
    CHECK(slice(quarantined, 0, mid) == std::vector<char>(mid, 0));
    // In the segment a skip record took its place; everything else is as it was.
    const auto after = spool_test::read_file(path);
    REQUIRE(after.size() == full.size());
    CHECK(slice(after, 0, mid) == slice(full, 0, mid));
    CHECK(slice(after, mid + fp, after.size()) == slice(full, mid + fp, full.size()));
    CHECK(scan_record(after, mid).kind == scan_kind::skip);
    CHECK(replayed(path) == seqs_except(5, {3}));
    // A second start finds nothing more to do.
    auto again = recover_segment(path);
    REQUIRE(again);
    CHECK(again->result == outcome::clean);
    CHECK(again->record_count == 4);
    CHECK(again->missing_seqs == 0);  // counted once, when it was found
  }
}

TEST_CASE("one flipped bit in record 138 of 2,000 loses that record and no other") {
  temp_dir d;
  auto bytes = make_segment(d, 2000);
  const std::string path = d / segment_file_name(1);
  auto rep = scan_segment(bytes);
  REQUIRE(rep);
  REQUIRE(rep->records.size() == 2000);
  const record_ref victim = rep->records[137];
  REQUIRE(victim.seq == 138);
  flip(bytes, (victim.offset + record_header_bytes + victim.length / 2) * 8 + 3);
  spool_test::write_file(path, bytes);
  rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 1999);
  CHECK(rep->missing_seqs == 1);
  REQUIRE(rep->damaged.size() == 1);
  CHECK(rep->damaged[0].offset == victim.offset);
  CHECK(replayed(path) == seqs_except(2000, {138}));
}

TEST_CASE("damage in several records loses each of them and keeps the rest") {
  temp_dir d;
  auto bytes = make_segment(d, 9);
  const std::string path = d / segment_file_name(1);
  for (int r : {0, 3, 4, 8}) flip(bytes, (offset_of_record(r) + 30) * 8);  // records 1, 4, 5 and 9
  spool_test::write_file(path, bytes);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 5);
  CHECK(rep->first_seq() == 2);  // the header's first_seq stays 1
  REQUIRE(rep->header);
  CHECK(rep->header->first_seq == 1);
  // 4 and 5 are one range; 9 is the end of the file, cut off after the copy.
  REQUIRE(rep->damaged.size() == 3);
  CHECK(rep->damaged[0].offset == offset_of_record(0));
  CHECK(rep->damaged[1].offset == offset_of_record(3));
  CHECK(rep->damaged[1].bytes == 2 * fp);
  CHECK(rep->damaged[2].offset == offset_of_record(8));
  CHECK(rep->valid_end == offset_of_record(8));
  CHECK(rep->missing_seqs == 3);  // 1, 4, 5; what the cut tail held is not known from this segment
  const auto q = spool_test::read_file(path + ".corrupt");
  REQUIRE(q.size() == bytes.size());
  CHECK(slice(q, offset_of_record(8), bytes.size()) == slice(bytes, offset_of_record(8), bytes.size()));
  CHECK(spool_test::read_file(path).size() == offset_of_record(8));
  CHECK(replayed(path) == std::vector<std::uint64_t>{2, 3, 6, 7, 8});
}

TEST_CASE("a length pointing past the end of the newest segment is damage when a record follows it") {
  temp_dir d;
  auto bytes = make_segment(d, 5);
  const std::string path = d / segment_file_name(1);
  const std::size_t at = offset_of_record(1);  // record 2
  const std::uint32_t len = 1u << 20;          // far past the end, within max_payload
  std::memcpy(bytes.data() + at + 4, &len, 4);
  spool_test::write_file(path, bytes);
  auto rep = recover_segment(path, {.max_payload = 2u << 20, .last_segment = true});
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->torn_bytes == 0);
  CHECK(rep->record_count == 4);
  REQUIRE(rep->damaged.size() == 1);
  CHECK(rep->damaged[0].offset == at);
  CHECK(slice(spool_test::read_file(path + ".corrupt"), at, at + fp) == slice(bytes, at, at + fp));
  CHECK(replayed(path) == seqs_except(5, {2}));
}

TEST_CASE("a damaged length in the last record of the newest segment is copied before it is cut") {
  temp_dir d;
  auto bytes = make_segment(d, 3);
  const std::string path = d / segment_file_name(1);
  const std::size_t at = offset_of_record(2);
  const std::uint32_t len = 5000;
  std::memcpy(bytes.data() + at + 4, &len, 4);
  spool_test::write_file(path, bytes);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);  // not torn: the header CRC says the length is wrong
  CHECK(rep->torn_bytes == 0);
  CHECK(rep->valid_end == at);
  REQUIRE(spool_test::exists(path + ".corrupt"));
  CHECK(slice(spool_test::read_file(path + ".corrupt"), at, bytes.size()) == slice(bytes, at, bytes.size()));
  CHECK(spool_test::read_file(path).size() == at);
}

TEST_CASE("zeros or garbage in the middle are quarantined and the records after them kept") {
  temp_dir d;
  const auto full = make_segment(d, 6);
  const std::string path = d / segment_file_name(1);
  const std::size_t a = offset_of_record(2), b = offset_of_record(4);  // records 3 and 4
  SUBCASE("zeros (blocks that never landed)") {
    auto bytes = full;
    std::fill(bytes.begin() + static_cast<long>(a), bytes.begin() + static_cast<long>(b), 0);
    spool_test::write_file(path, bytes);
    auto rep = recover_segment(path);
    REQUIRE(rep);
    REQUIRE(rep->damaged.size() == 1);
    CHECK(rep->damaged[0].offset == a);
    CHECK(rep->damaged[0].bytes == b - a);
    CHECK(replayed(path) == seqs_except(6, {3, 4}));
    CHECK(spool_test::read_file(path + ".corrupt") == std::vector<char>(b, 0));
  }
  SUBCASE("garbage") {
    auto bytes = full;
    for (std::size_t i = a; i < b; ++i) bytes[i] = static_cast<char>(i * 37 + 11);
    spool_test::write_file(path, bytes);
    auto rep = recover_segment(path);
    REQUIRE(rep);
    REQUIRE(rep->damaged.size() == 1);
    CHECK(rep->damaged[0].offset == a);
    CHECK(rep->damaged[0].bytes == b - a);
    CHECK(replayed(path) == seqs_except(6, {3, 4}));
    CHECK(slice(spool_test::read_file(path + ".corrupt"), a, b) == slice(bytes, a, b));
  }
}

TEST_CASE("a record with a valid CRC but the wrong sequence number counts as damage") {
  temp_dir d;
  // A second directory's segment numbered from 10: splice its record in
  // between records 2 and 3.
  temp_dir other;
  auto w = segment_writer::create(other.path(), 0, 1, 10);
  REQUIRE(w);
  REQUIRE(w->append(payload(9)));
  REQUIRE(w->flush());
  const auto b = spool_test::read_file(other / segment_file_name(1));
  const auto full = make_segment(d, 4);
  auto a = slice(full, 0, offset_of_record(2));
  a.insert(a.end(), b.begin() + segment_header_bytes, b.end());
  a.insert(a.end(), full.begin() + static_cast<long>(offset_of_record(2)), full.end());
  spool_test::write_file(d / segment_file_name(1), a);
  auto rep = recover_segment(d / segment_file_name(1));
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 4);
  CHECK(rep->missing_seqs == 0);
  REQUIRE(rep->damaged.size() == 1);
  CHECK(rep->damaged[0].offset == offset_of_record(2));
  CHECK(replayed(d / segment_file_name(1)) == seqs_except(4, {}));
}

TEST_CASE("an incomplete record in an older segment is quarantined, not truncated") {
  temp_dir d;
  const auto full = make_segment(d, 3);
  const std::string path = d / segment_file_name(1);
  spool_test::write_file(path, slice(full, 0, full.size() - 5));
  auto rep = recover_segment(path, {.max_payload = max_payload_limit, .last_segment = false});
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->records.size() == 2);
  CHECK(rep->torn_bytes == 0);
  CHECK(spool_test::exists(path + ".corrupt"));
}

TEST_CASE("a damaged header moves the whole segment aside as it is") {
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
  CHECK(rep->quarantined_bytes == bytes.size());
  CHECK_FALSE(spool_test::exists(path));  // renamed, not copied
  CHECK(spool_test::read_file(path + ".corrupt") == bytes);
  // A second damaged segment of that name later gets its own name.
  spool_test::write_file(path, bytes);
  REQUIRE(recover_segment(path));
  CHECK(spool_test::read_file(path + ".corrupt.1") == bytes);
}

TEST_CASE("a segment whose header never fully landed is cut to empty") {
  temp_dir d;
  const auto bytes = make_segment(d, 1);
  const std::string path = d / segment_file_name(1);
  for (std::size_t cut : {std::size_t{0}, std::size_t{7}, segment_header_bytes - 1}) {
    spool_test::write_file(path, slice(bytes, 0, cut));
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
  bytes.push_back('x');  // would be damage under version 2
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
  CHECK_FALSE(spool_test::exists(path + ".corrupt"));
}

TEST_CASE("recovering a missing segment is an I/O error") {
  temp_dir d;
  auto rep = recover_segment(d / "segment-0000000000000009.log");
  REQUIRE_FALSE(rep);
  CHECK(rep.error().code == errc::io);
}

TEST_CASE("an earlier quarantine of the same segment is never overwritten") {
  temp_dir d;
  make_segment(d, 5);
  const std::string path = d / segment_file_name(1);
  auto damage = [&](int record) {
    auto bytes = spool_test::read_file(path);
    bytes[offset_of_record(record) + 30] ^= 1;
    spool_test::write_file(path, bytes);
    return slice(bytes, offset_of_record(record), offset_of_record(record + 1));
  };
  const auto first = damage(3);
  REQUIRE(recover_segment(path));
  const auto second = damage(1);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->record_count == 3);
  CHECK(slice(spool_test::read_file(path + ".corrupt"), offset_of_record(3), offset_of_record(4)) == first);
  CHECK(slice(spool_test::read_file(path + ".corrupt.1"), offset_of_record(1), offset_of_record(2)) == second);
  CHECK(replayed(path) == seqs_except(5, {2, 4}));
}

TEST_CASE("a recovery interrupted after its copy reuses that copy") {
  temp_dir d;
  auto bytes = make_segment(d, 3);
  const std::string path = d / segment_file_name(1);
  bytes[offset_of_record(1) + 30] ^= 1;
  spool_test::write_file(path, bytes);
  // As if the crash came after the copy, before the segment changed.
  auto copy = std::vector<char>(offset_of_record(2), 0);
  std::copy(bytes.begin() + static_cast<long>(offset_of_record(1)), bytes.begin() + static_cast<long>(offset_of_record(2)),
            copy.begin() + static_cast<long>(offset_of_record(1)));
  spool_test::write_file(path + ".corrupt", copy);
  auto rep = recover_segment(path);
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(spool_test::read_file(path + ".corrupt") == copy);
  CHECK_FALSE(spool_test::exists(path + ".corrupt.1"));
  CHECK(replayed(path) == seqs_except(3, {2}));
}
