// SPDX-License-Identifier: Apache-2.0
// Recovery's bounds on files of any size: a sparse 1 GiB file (with or without
// a header) costs neither 1 GiB of memory nor a dense 1 GiB copy, dense
// garbage is scanned through a bounded window, the number of damaged ranges
// and the work spent on crafted candidates are capped, and what lies past a
// hole is still found and replayed.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/crc32c.hpp"
#include "tollgate/spool/layout.hpp"
#include "tollgate/spool/recovery.hpp"
#include "tollgate/spool/segment_reader.hpp"
#include "tollgate/spool/segment_writer.hpp"

using namespace tg::spool;
using spool_test::temp_dir;

namespace {

constexpr std::uint64_t gib = 1ull << 30;
constexpr std::uint64_t mib = 1ull << 20;
// What recovery may add to the process's peak memory here: its window (the
// largest record, 1 MiB below, plus a chunk) and some slack, far below the files.
constexpr std::uint64_t rss_allowance = 48 * mib;

std::string payload(int i) { return "{\"id\":\"" + std::to_string(i) + "\",\"source\":\"bounds\"}"; }

std::uint64_t peak_rss() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;
}

struct file_stat {
  std::uint64_t size = 0;
  std::uint64_t allocated = 0;  // bytes of disk blocks
};
file_stat stat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return {static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(st.st_blocks) * 512};
}

// Segment 1 with records 1..n, then the file extended to `size` (a hole) if that is larger.
std::vector<char> segment_then_hole(const temp_dir& d, int n, std::uint64_t size) {
  {
    auto w = segment_writer::create(d.path(), 0, 1, 1);
    REQUIRE(w);
    for (int i = 1; i <= n; ++i) REQUIRE(w->append(payload(i)));
    REQUIRE(w->sync());
  }
  const std::string path = d / segment_file_name(1);
  auto bytes = spool_test::read_file(path);
  if (size > bytes.size()) REQUIRE(::truncate(path.c_str(), static_cast<off_t>(size)) == 0);
  return bytes;
}

void append_bytes(const std::string& path, std::uint64_t at, const std::vector<char>& b) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, b.data(), b.size(), static_cast<off_t>(at)) == static_cast<ssize_t>(b.size()));
  ::close(fd);
}

std::vector<std::uint64_t> replayed(const std::string& path) {
  segment_reader r(mib);
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

const recover_options newest{.max_payload = 1u << 20, .last_segment = true, .keep_records = false};
const recover_options older{.max_payload = 1u << 20, .last_segment = false, .keep_records = false};

}  // namespace

TEST_CASE("a sparse 1 GiB file with a segment's name and no header is moved aside whole, read in bounded memory") {
  temp_dir d;
  const std::string path = d / segment_file_name(7);
  {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0640);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(gib)) == 0);
    ::close(fd);
  }
  const std::uint64_t before = peak_rss();
  auto rep = recover_segment(path, older);
  REQUIRE(rep);
  CHECK(peak_rss() - before < rss_allowance);
  CHECK(rep->result == outcome::corrupt);
  CHECK_FALSE(rep->header);
  CHECK(rep->quarantined_bytes == gib);
  CHECK_FALSE(spool_test::exists(path));
  const file_stat q = stat_of(path + ".corrupt");
  CHECK(q.size == gib);
  CHECK(q.allocated < mib);  // renamed: still sparse, nothing copied
}

TEST_CASE("a 1 GiB hole after the last record of the newest segment is a torn tail, cut in bounded memory") {
  temp_dir d;
  const auto bytes = segment_then_hole(d, 10, gib);
  const std::string path = d / segment_file_name(1);
  const std::uint64_t before = peak_rss();
  auto rep = recover_segment(path, newest);
  REQUIRE(rep);
  CHECK(peak_rss() - before < rss_allowance);
  CHECK(rep->result == outcome::torn);
  CHECK(rep->record_count == 10);
  CHECK(rep->valid_end == bytes.size());
  CHECK(stat_of(path).size == bytes.size());
  CHECK_FALSE(spool_test::exists(path + ".corrupt"));
}

TEST_CASE("a 1 GiB hole at the end of an older segment is quarantined as a sparse copy") {
  temp_dir d;
  const auto bytes = segment_then_hole(d, 10, gib);
  const std::string path = d / segment_file_name(1);
  const std::uint64_t before = peak_rss();
  auto rep = recover_segment(path, older);
  REQUIRE(rep);
  CHECK(peak_rss() - before < rss_allowance);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 10);
  CHECK(rep->quarantined_bytes == gib - bytes.size());
  const file_stat q = stat_of(path + ".corrupt");
  CHECK(q.size == gib);
  CHECK(q.allocated < mib);  // zeros are holes in the copy
  CHECK(stat_of(path).size == bytes.size());
}

TEST_CASE("records past a 256 MiB hole in the middle are found and replayed; the hole costs no copy") {
  temp_dir d;
  const std::uint64_t hole_end = 256 * mib;
  const auto head = segment_then_hole(d, 5, hole_end);
  const std::string path = d / segment_file_name(1);
  // Records 6..8 written after the hole, as blocks that landed out of order leave them.
  std::vector<char> tail;
  for (int i = 6; i <= 8; ++i) {
    const std::size_t at = tail.size();
    tail.resize(at + record_footprint(payload(i).size()));
    encode_record(std::span<char>(tail.data() + at, tail.size() - at), static_cast<std::uint64_t>(i), payload(i));
  }
  append_bytes(path, hole_end, tail);
  const std::uint64_t before = peak_rss();
  auto rep = recover_segment(path, newest);
  REQUIRE(rep);
  CHECK(peak_rss() - before < rss_allowance);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 8);
  REQUIRE(rep->damaged.size() == 1);
  CHECK(rep->damaged[0].offset == head.size());
  CHECK(rep->damaged[0].end() == hole_end);
  CHECK(stat_of(path + ".corrupt").allocated < mib);
  CHECK(replayed(path) == std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("32 MiB of dense garbage after the records is scanned in a bounded window and copied as it is") {
  temp_dir d;
  const auto head = segment_then_hole(d, 5, 0);
  const std::string path = d / segment_file_name(1);
  std::vector<char> garbage(32 * mib);
  std::mt19937_64 rng(7);
  for (std::size_t i = 0; i < garbage.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(garbage.data() + i, &v, 8);
  }
  append_bytes(path, head.size(), garbage);
  garbage = {};
  const std::uint64_t before = peak_rss();
  auto rep = recover_segment(path, newest);
  REQUIRE(rep);
  CHECK(peak_rss() - before < rss_allowance);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 5);
  CHECK(rep->quarantined_bytes == 32 * mib);
  CHECK(stat_of(path + ".corrupt").size == head.size() + 32 * mib);
  CHECK(stat_of(path).size == head.size());
}

TEST_CASE("past max_damaged_ranges the rest of the segment is one damaged range") {
  temp_dir d;
  const int n = 2 * static_cast<int>(max_damaged_ranges) + 200;
  auto bytes = segment_then_hole(d, n, 0);
  auto rep = scan_segment(bytes);
  REQUIRE(rep);
  REQUIRE(rep->records.size() == static_cast<std::size_t>(n));
  const auto refs = rep->records;
  for (std::size_t i = 0; i < refs.size(); i += 2) bytes[refs[i].offset + record_header_bytes] ^= 1;  // every other
  rep = scan_segment(bytes);
  REQUIRE(rep);
  REQUIRE(rep->damaged.size() == max_damaged_ranges);
  CHECK(rep->damaged.back().end() == bytes.size());
  CHECK(rep->record_count == max_damaged_ranges - 1);
  CHECK(rep->valid_end == rep->damaged.back().offset);
}

TEST_CASE("crafted candidates with valid header CRCs cost bounded work, then the rest is damage") {
  // A record header with a matching header CRC every 24 bytes, each claiming
  // a 1 MiB payload whose CRC fails: without a bound a resync would CRC 1 MiB
  // per candidate (about 10^5 of them here).
  std::vector<char> bytes(8 * mib, 'x');
  encode_header({format_version, 0, 1, 1}, std::span<char, segment_header_bytes>(bytes.data(), segment_header_bytes));
  for (std::size_t at = segment_header_bytes; at + record_header_bytes <= bytes.size(); at += 24) {
    char* p = bytes.data() + at;
    const std::uint32_t m = record_marker, len = 1u << 20, pcrc = 0;
    const std::uint64_t seq = 1;
    std::memcpy(p, &m, 4);
    std::memcpy(p + 4, &len, 4);
    std::memcpy(p + 8, &seq, 8);
    std::memcpy(p + 16, &pcrc, 4);
    const std::uint32_t hcrc = crc32c(p, 20);
    std::memcpy(p + 20, &hcrc, 4);
  }
  auto rep = scan_segment(bytes, {.max_payload = 1u << 20, .last_segment = true});
  REQUIRE(rep);
  CHECK(rep->result == outcome::corrupt);
  CHECK(rep->record_count == 0);
  REQUIRE(rep->damaged.size() == 1);
  CHECK(rep->damaged[0].offset == segment_header_bytes);
  CHECK(rep->damaged[0].end() == bytes.size());
}
