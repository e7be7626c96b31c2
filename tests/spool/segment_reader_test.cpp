// SPDX-License-Identifier: Apache-2.0
// Reading a segment back from a record boundary: every record in order, the
// three ways a read stops short (a limit, a refusal, the end of the file) and
// resumes where it stopped, a file that grows while it is open, records larger
// than one read, a torn tail, a damaged record, and a missing file.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/segment_reader.hpp"
#include "tollgate/spool/segment_writer.hpp"
#include "v1_segment.hpp"

using namespace tg::spool;
using spool_test::temp_dir;
using stop = segment_reader::stop;

namespace {

// Every payload(i) for i < 900000 has the same length, so offsets are easy.
std::string payload(int i) { return "{\"id\":\"" + std::to_string(100000 + i) + "\",\"source\":\"reader\"}"; }
const std::size_t fp = record_footprint(payload(1).size());

// File offset of the index0-th record when every record is a payload(i).
std::uint64_t offset_of_record(std::size_t index0) { return segment_header_bytes + index0 * fp; }

struct rec {
  std::uint64_t seq;
  std::string bytes;
  bool operator==(const rec&) const = default;
};

// Reads with `limit`, taking everything; returns the stop and appends the records to `out`.
stop read_all(segment_reader& r, std::vector<rec>& out, std::uint64_t limit = ~std::uint64_t{0}) {
  auto st = r.read(limit, [&](std::uint64_t seq, std::span<const char> p) {
    out.push_back({seq, std::string(p.data(), p.size())});
    return true;
  });
  REQUIRE(st);
  return *st;
}

// Appends payload(first..last) (seq first..last when the writer started at 1) and flushes.
void append(segment_writer& w, int first, int last) {
  for (int i = first; i <= last; ++i) {
    auto seq = w.append(payload(i));
    REQUIRE(seq);
    REQUIRE(*seq == static_cast<std::uint64_t>(i));
  }
  REQUIRE(w.flush());
}

std::vector<rec> expected(int first, int last) {
  std::vector<rec> v;
  for (int i = first; i <= last; ++i) v.push_back({static_cast<std::uint64_t>(i), payload(i)});
  return v;
}

}  // namespace

// Failures list the sequence numbers (and payload sizes) instead of {?}.
template <>
struct doctest::StringMaker<std::vector<rec>> {
  static doctest::String convert(const std::vector<rec>& v) {
    std::string s = "[";
    for (const auto& r : v) {
      if (s.size() > 1) s += ' ';
      s += std::to_string(r.seq);
      s += ':';
      s += std::to_string(r.bytes.size());
      s += 'B';
    }
    s += ']';
    return s.c_str();
  }
};

TEST_CASE("reads every record of a segment in order from the start") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 10);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  CHECK(r.is_open());
  CHECK(r.path() == d / segment_file_name(1));
  CHECK(r.offset() == segment_header_bytes);  // 0 means the first record
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(1, 10));
  CHECK(r.offset() == offset_of_record(10));
  // Nothing more: a second read hands over nothing and stays at the end.
  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got.empty());
  CHECK(r.offset() == offset_of_record(10));
}

TEST_CASE("an offset inside the header means the first record") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 3);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 17));
  CHECK(r.offset() == segment_header_bytes);
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(1, 3));
}

TEST_CASE("reads from a record boundary in the middle of a segment") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 10);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), offset_of_record(6)));  // record 7
  CHECK(r.offset() == offset_of_record(6));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(7, 10));
  CHECK(r.offset() == offset_of_record(10));
}

TEST_CASE("records of different sizes come back byte for byte") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  std::vector<std::string> ps;
  for (std::size_t n = 1; n <= 40; ++n) {
    std::string p(n, '\0');
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>((n * 31 + i * 7) & 0xff);  // zeros, high bytes too
    ps.push_back(p);
    REQUIRE(w->append(p));
  }
  REQUIRE(w->flush());
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  REQUIRE(got.size() == ps.size());
  std::uint64_t off = segment_header_bytes;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    CHECK(got[i].seq == i + 1);
    CHECK(got[i].bytes == ps[i]);
    off += record_footprint(ps[i].size());
  }
  CHECK(r.offset() == off);
}

TEST_CASE("a read stops at a record above the limit and resumes there with a higher one") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 10);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  CHECK(read_all(r, got, 4) == stop::limit);  // the limit itself is included
  CHECK(got == expected(1, 4));
  CHECK(r.offset() == offset_of_record(4));  // at record 5, unread
  // The same limit again: nothing, and the position does not move.
  got.clear();
  CHECK(read_all(r, got, 4) == stop::limit);
  CHECK(got.empty());
  CHECK(r.offset() == offset_of_record(4));
  got.clear();
  CHECK(read_all(r, got, 7) == stop::limit);
  CHECK(got == expected(5, 7));
  CHECK(r.offset() == offset_of_record(7));
  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(8, 10));
}

TEST_CASE("a limit below the first record hands over nothing") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 50);
  REQUIRE(w);
  REQUIRE(w->append(payload(1)));
  REQUIRE(w->flush());
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  CHECK(read_all(r, got, 49) == stop::limit);
  CHECK(got.empty());
  CHECK(r.offset() == segment_header_bytes);
  CHECK(read_all(r, got, 50) == stop::end);
  REQUIRE(got.size() == 1);
  CHECK(got[0].seq == 50);
}

TEST_CASE("a refused record stays unread and comes back on the next read") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 6);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  auto st = r.read(~std::uint64_t{0}, [&](std::uint64_t seq, std::span<const char> p) {
    if (seq == 3) return false;
    got.push_back({seq, std::string(p.data(), p.size())});
    return true;
  });
  REQUIRE(st);
  CHECK(*st == stop::refused);
  CHECK(got == expected(1, 2));
  CHECK(r.offset() == offset_of_record(2));  // record 3 is next

  // Refusing the first record offered: it is offered exactly once per read.
  std::vector<std::uint64_t> offered;
  st = r.read(~std::uint64_t{0}, [&](std::uint64_t seq, std::span<const char>) {
    offered.push_back(seq);
    return false;
  });
  REQUIRE(st);
  CHECK(*st == stop::refused);
  CHECK(offered == std::vector<std::uint64_t>{3});
  CHECK(r.offset() == offset_of_record(2));

  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(3, 6));
}

TEST_CASE("a read at the end picks up records appended to the open file later") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 5);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(1, 5));

  append(*w, 6, 8);
  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(6, 8));
  CHECK(r.offset() == offset_of_record(8));

  // Once more, after a read that ended with nothing new.
  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got.empty());
  append(*w, 9, 9);
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(9, 9));
}

TEST_CASE("a read at the end of an open file with no records yet picks up the first ones") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  REQUIRE(w->flush());  // the header only
  REQUIRE(spool_test::read_file(d / segment_file_name(1)).size() == segment_header_bytes);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got.empty());
  append(*w, 1, 2);
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(1, 2));
}

TEST_CASE("a record cut short by a write in progress is read whole once the rest lands") {
  temp_dir d;
  const std::string path = d / segment_file_name(1);
  {
    auto w = segment_writer::create(d.path(), 0, 1, 1);
    REQUIRE(w);
    append(*w, 1, 3);
  }
  const auto full = spool_test::read_file(path);
  const std::size_t cut = offset_of_record(2) + 5;  // inside record 3's header
  spool_test::write_file(path, std::vector<char>(full.begin(), full.begin() + static_cast<long>(cut)));
  segment_reader r;
  REQUIRE(r.open(path, 0));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(1, 2));
  CHECK(r.offset() == offset_of_record(2));
  // The rest of the record reaches the same file (the reader keeps its descriptor).
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.write(full.data() + cut, static_cast<std::streamsize>(full.size() - cut));
  }
  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(3, 3));
}

TEST_CASE("records larger than one read come back whole") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  std::vector<std::string> ps;
  for (std::size_t n : {std::size_t{10} << 10, std::size_t{100}, std::size_t{100} << 10, std::size_t{3}}) {
    std::string p(n, '\0');
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>((i * 131 + n) & 0xff);
    ps.push_back(p);
    REQUIRE(w->append(p));
  }
  REQUIRE(w->flush());

  auto check_all = [&](segment_reader& r) {
    REQUIRE(r.open(d / segment_file_name(1), 0));
    std::vector<rec> got;
    CHECK(read_all(r, got) == stop::end);
    REQUIRE(got.size() == ps.size());
    for (std::size_t i = 0; i < ps.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i].seq == i + 1);
      CHECK(got[i].bytes == ps[i]);
    }
    CHECK(r.offset() == spool_test::read_file(d / segment_file_name(1)).size());
  };
  SUBCASE("the format's payload bound") {
    segment_reader r(max_payload_limit, 4096);
    check_all(r);
  }
  SUBCASE("a payload bound of 1 MiB") {
    segment_reader r(1u << 20, 4096);
    check_all(r);
  }
  SUBCASE("a payload bound just above the largest record") {
    segment_reader r((100u << 10) + 8, 4096);
    check_all(r);
  }
}

TEST_CASE("many small records across many refills all come back in order") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 5000);
  REQUIRE(offset_of_record(5000) > 20 * 4096);  // many chunks, and records straddle their edges
  segment_reader r(1u << 20, 4096);
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  got.reserve(5000);
  CHECK(read_all(r, got) == stop::end);
  REQUIRE(got.size() == 5000);
  CHECK(got == expected(1, 5000));
  CHECK(r.offset() == offset_of_record(5000));
}

TEST_CASE("reading in small steps with limits and refusals across refills loses and repeats nothing") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 2000);
  segment_reader r(1u << 20, 4096);
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  std::uint64_t limit = 0;
  int calls = 0;
  for (;;) {
    ++calls;
    REQUIRE(calls < 10000);
    int taken = 0;
    auto st = r.read(limit, [&](std::uint64_t seq, std::span<const char> p) {
      if (taken == 7) return false;  // refuse every 8th offered record
      ++taken;
      got.push_back({seq, std::string(p.data(), p.size())});
      return true;
    });
    REQUIRE(st);
    CHECK(r.offset() == offset_of_record(got.size()));
    if (*st == stop::end) break;
    if (*st == stop::limit) limit += 13;
  }
  CHECK(got == expected(1, 2000));
}

TEST_CASE("a torn tail reads as the end after the complete records") {
  temp_dir d;
  const std::string path = d / segment_file_name(1);
  {
    auto w = segment_writer::create(d.path(), 0, 1, 1);
    REQUIRE(w);
    append(*w, 1, 4);
  }
  const auto full = spool_test::read_file(path);
  REQUIRE(full.size() == offset_of_record(4));
  for (std::size_t cut : {offset_of_record(3) + 1, offset_of_record(3) + record_header_bytes,
                          offset_of_record(3) + fp / 2, full.size() - 1}) {
    CAPTURE(cut);
    spool_test::write_file(path, std::vector<char>(full.begin(), full.begin() + static_cast<long>(cut)));
    segment_reader r;
    REQUIRE(r.open(path, 0));
    std::vector<rec> got;
    CHECK(read_all(r, got) == stop::end);
    CHECK(got == expected(1, 3));
    CHECK(r.offset() == offset_of_record(3));
  }
}

TEST_CASE("a damaged record stops the read there after the records before it") {
  temp_dir d;
  const std::string path = d / segment_file_name(1);
  {
    auto w = segment_writer::create(d.path(), 0, 1, 1);
    REQUIRE(w);
    append(*w, 1, 5);
  }
  auto bytes = spool_test::read_file(path);
  const std::size_t flip = offset_of_record(2) + record_header_bytes + 4;  // inside record 3's payload
  bytes[flip] = static_cast<char>(bytes[flip] ^ 0x20);
  spool_test::write_file(path, bytes);

  SUBCASE("default chunk") {
    segment_reader r;
    REQUIRE(r.open(path, 0));
    std::vector<rec> got;
    CHECK(read_all(r, got) == stop::damaged);
    CHECK(got == expected(1, 2));
    CHECK(r.offset() == offset_of_record(2));
    // It stays damaged: a second read does not skip over it.
    got.clear();
    CHECK(read_all(r, got) == stop::damaged);
    CHECK(got.empty());
    CHECK(r.offset() == offset_of_record(2));
  }
  SUBCASE("opened at the damaged record") {
    segment_reader r;
    REQUIRE(r.open(path, offset_of_record(2)));
    std::vector<rec> got;
    CHECK(read_all(r, got) == stop::damaged);
    CHECK(got.empty());
  }
  SUBCASE("records after the damage are still reachable from their own offset") {
    segment_reader r;
    REQUIRE(r.open(path, offset_of_record(3)));
    std::vector<rec> got;
    CHECK(read_all(r, got) == stop::end);
    CHECK(got == expected(4, 5));
  }
}

TEST_CASE("an impossible length is damage, not a reason to wait for more bytes") {
  temp_dir d;
  const std::string path = d / segment_file_name(1);
  {
    auto w = segment_writer::create(d.path(), 0, 1, 1);
    REQUIRE(w);
    append(*w, 1, 3);
  }
  auto bytes = spool_test::read_file(path);
  // Record 2's length field (little-endian u32) set above the reader's bound.
  const std::size_t at = offset_of_record(1);
  const std::uint32_t len = 4096 + 1;
  for (int i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>((len >> (8 * i)) & 0xff);
  spool_test::write_file(path, bytes);
  segment_reader r(4096, 4096);
  REQUIRE(r.open(path, 0));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::damaged);
  CHECK(got == expected(1, 1));
  CHECK(r.offset() == offset_of_record(1));
}

TEST_CASE("opening a missing segment is an I/O error") {
  temp_dir d;
  segment_reader r;
  auto o = r.open(d / segment_file_name(42), 0);
  REQUIRE_FALSE(o);
  CHECK(o.error().code == errc::io);
  CHECK(o.error().sys == ENOENT);
  CHECK_FALSE(r.is_open());
}

TEST_CASE("close and reopen start from the given offset with a fresh buffer") {
  temp_dir d;
  auto w = segment_writer::create(d.path(), 0, 1, 1);
  REQUIRE(w);
  append(*w, 1, 4);
  segment_reader r;
  REQUIRE(r.open(d / segment_file_name(1), 0));
  std::vector<rec> got;
  CHECK(read_all(r, got, 2) == stop::limit);
  const std::uint64_t at = r.offset();
  r.close();
  CHECK_FALSE(r.is_open());
  append(*w, 5, 6);
  REQUIRE(r.open(d / segment_file_name(1), at));
  got.clear();
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(3, 6));
}

TEST_CASE("a skip record left by recovery is stepped over, also when its span ends past the buffer") {
  temp_dir d;
  const std::string path = d / segment_file_name(1);
  {
    auto w = segment_writer::create(d.path(), 0, 1, 1);
    REQUIRE(w);
    append(*w, 1, 400);
  }
  auto bytes = spool_test::read_file(path);
  // Records 3..300 become one skip record, as recovery leaves a damaged range.
  const std::uint64_t from = offset_of_record(2), to = offset_of_record(300);
  encode_skip(std::span<char, record_header_bytes>(bytes.data() + from, record_header_bytes), to - from);
  spool_test::write_file(path, bytes);
  for (std::size_t chunk : {std::size_t{4096}, std::size_t{1} << 20}) {
    CAPTURE(chunk);
    segment_reader r(1u << 20, chunk);
    REQUIRE(r.open(path, 0));
    std::vector<rec> got;
    CHECK(read_all(r, got) == stop::end);
    std::vector<rec> want = expected(1, 2);
    const auto rest = expected(301, 400);
    want.insert(want.end(), rest.begin(), rest.end());
    CHECK(got == want);
    // A limit inside the gap stops at the first record after it, unread.
    REQUIRE(r.open(path, 0));
    got.clear();
    CHECK(read_all(r, got, 150) == stop::limit);
    CHECK(got == expected(1, 2));
    CHECK(r.offset() == to);
  }
}

TEST_CASE("a version 1 segment reads back with the same reader") {
  temp_dir d;
  const std::string path = d / segment_file_name(1);
  std::vector<std::string> ps;
  for (int i = 1; i <= 300; ++i) ps.push_back(payload(i));
  spool_test::write_file(path, spool_test::v1_segment(0, 1, 1, ps));
  segment_reader r(1u << 20, 4096);
  REQUIRE(r.open(path, 0));
  std::vector<rec> got;
  CHECK(read_all(r, got) == stop::end);
  CHECK(got == expected(1, 300));
  CHECK(r.offset() == segment_header_bytes + 300 * record_footprint_v1(payload(1).size()));
}
