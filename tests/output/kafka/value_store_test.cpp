// SPDX-License-Identifier: Apache-2.0
// Message values stay where librdkafka was pointed until every message in
// their chunk is released, and only then is the chunk freed or reused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tollgate/output/kafka/value_store.hpp"

using tg::kafka::value_store;

TEST_CASE("a stored value keeps its bytes and its address while messages after it are stored") {
  value_store s(64);
  const std::string_view a = s.put(0, "first value");
  const char* where = a.data();
  std::vector<std::string_view> later;
  for (std::uint64_t seq = 1; seq < 40; ++seq) later.push_back(s.put(seq, "another value, " + std::to_string(seq)));
  CHECK(a.data() == where);
  CHECK(a == "first value");
  CHECK(later[5] == "another value, 6");
  CHECK(s.chunks() > 1);
}

TEST_CASE("a chunk is freed only when every message in it is below the oldest one in flight") {
  value_store s(32);
  s.put(0, std::string(20, 'a'));
  s.put(1, std::string(10, 'b'));  // same chunk as 0 (30 of 32 bytes)
  s.put(2, std::string(20, 'c'));  // a second chunk
  REQUIRE(s.chunks() == 2);
  s.release_below(1);  // 1 still in flight: the first chunk stays
  CHECK(s.chunks() == 2);
  s.release_below(2);
  CHECK(s.chunks() == 1);
  const std::string_view d = s.put(3, std::string(5, 'd'));
  CHECK(d == "ddddd");
  s.release_below(3);  // 3 is still in flight: the chunk holding 2 and 3 stays
  CHECK(s.chunks() == 1);
  CHECK(d == "ddddd");
}

TEST_CASE("chunks are freed oldest first, and a message produced again goes into the newest") {
  value_store s(16);
  s.put(0, std::string(16, 'a'));
  s.put(1, std::string(16, 'b'));
  const std::string_view again = s.put(0, std::string(8, 'r'));  // seq 0 again, after 1
  REQUIRE(s.chunks() == 3);
  s.release_below(1);  // 0's first chunk goes; 1's chunk is the oldest now
  CHECK(s.chunks() == 2);
  s.release_below(2);
  // Everything below 2 is released: the last chunk is kept for reuse, emptied.
  CHECK(s.chunks() == 1);
  (void)again;
}

TEST_CASE("the last chunk is reused once emptied, unless another owner still holds it") {
  value_store s(64);
  const std::string_view a = s.put(0, "x");
  s.release_below(1);
  const std::string_view b = s.put(1, "y");
  CHECK(b.data() == a.data());  // reused in place
  auto kept = s.share();
  REQUIRE(kept.size() == 1);
  s.release_below(2);
  CHECK(s.chunks() == 0);  // shared with a producer being destroyed: given up, not reused
  CHECK(kept[0].get()[0] == 'y');
  const std::string_view c = s.put(2, "z");
  CHECK(c.data() != kept[0].get());
}

TEST_CASE("a value larger than a chunk gets a chunk of its own") {
  value_store s(8);
  const std::string big(100, 'q');
  const std::string_view v = s.put(0, big);
  CHECK(v == big);
  CHECK(s.bytes_held() == 100);
}
