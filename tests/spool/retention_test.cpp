// SPDX-License-Identifier: Apache-2.0
// Which segments may go once the acknowledged position moves, and where a
// restarted writer continues numbering.
#include <doctest/doctest.h>

#include <vector>

#include "tollgate/spool/retention.hpp"

using namespace tg::spool;
using v64 = std::vector<std::uint64_t>;

TEST_CASE("a segment is deletable only when every record in it is acknowledged") {
  const std::vector<segment_span> segs = {
      {1, 1, 100, false}, {2, 101, 200, false}, {3, 201, 250, true}};
  CHECK(deletable_segments(segs, 0) == v64{});
  CHECK(deletable_segments(segs, 99) == v64{});
  CHECK(deletable_segments(segs, 100) == v64{1});
  CHECK(deletable_segments(segs, 199) == v64{1});
  CHECK(deletable_segments(segs, 200) == v64{1, 2});
  CHECK(deletable_segments(segs, 1000) == v64{1, 2});  // the active segment stays
}

TEST_CASE("an empty segment holds nothing to lose unless it is the active one") {
  const std::vector<segment_span> segs = {{4, 50, 49, false}, {5, 50, 60, false}, {6, 61, 60, true}};
  CHECK(deletable_segments(segs, 0) == v64{4});
  CHECK(deletable_segments(segs, 60) == v64{4, 5});
}

TEST_CASE("a restarted writer continues past every segment, record and the acknowledged position") {
  SUBCASE("fresh directory") {
    const auto p = resume_after({}, 0);
    CHECK(p.next_segment_seq == 1);
    CHECK(p.next_record_seq == 1);
  }
  SUBCASE("after existing records") {
    const std::vector<segment_span> segs = {{1, 1, 100}, {2, 101, 180}};
    const auto p = resume_after(segs, 50);
    CHECK(p.next_segment_seq == 3);
    CHECK(p.next_record_seq == 181);
  }
  SUBCASE("every segment deleted: never reuse an acknowledged sequence number") {
    const auto p = resume_after({}, 5000);
    CHECK(p.next_record_seq == 5001);
  }
  SUBCASE("an empty newest segment still reserved the numbers before it") {
    const std::vector<segment_span> segs = {{1, 1, 10}, {9, 300, 299}};
    const auto p = resume_after(segs, 0);
    CHECK(p.next_segment_seq == 10);
    CHECK(p.next_record_seq == 300);
  }
}
