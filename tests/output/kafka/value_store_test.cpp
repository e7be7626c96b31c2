// SPDX-License-Identifier: Apache-2.0
// Message values stay where librdkafka was pointed until every message in
// their chunk is released, and only then is the chunk freed or reused.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tollgate/output/kafka/value_store.hpp"

using tg::kafka::value_store;

TEST_CASE("a stored value keeps its bytes and its address while messages after it are stored") {
  value_store s(1000, 64);
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
  value_store s(1000, 32);
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

TEST_CASE("a message produced again points at the bytes stored the first time, stored once") {
  value_store s(1000, 16);
  const std::string_view first = s.put(0, std::string(16, 'a'));
  s.put(1, std::string(16, 'b'));
  for (int attempt = 0; attempt < 50; ++attempt) {
    const std::string_view again = s.put(0, std::string(16, 'a'));
    CHECK(again.data() == first.data());
  }
  CHECK(s.chunks() == 2);
  CHECK(s.bytes_held() == 32);
  s.release_below(1);  // 0's chunk goes; 1's is the oldest now
  CHECK(s.chunks() == 1);
}

TEST_CASE("a sequence number that comes back around the index is stored anew") {
  value_store s(4, 64);  // four in flight at most
  const std::string_view a = s.put(1, "one");
  s.release_below(5);    // 1 is released; 5 takes its index slot
  const std::string_view b = s.put(5, "five");
  CHECK(b == "five");
  CHECK(a.data() == b.data());  // the emptied chunk reused from its start
}

TEST_CASE("the last chunk is reused once emptied, unless another owner still holds it") {
  value_store s(1000, 64);
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
  value_store s(1000, 8);
  const std::string big(100, 'q');
  const std::string_view v = s.put(0, big);
  CHECK(v == big);
  CHECK(s.bytes_held() == 100);
}
