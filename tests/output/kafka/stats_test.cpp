// SPDX-License-Identifier: Apache-2.0
// Broker states from librdkafka's statistics JSON (the shape librdkafka 2.0
// writes, trimmed): learned and bootstrap brokers kept, the internal one left out.
#include <doctest/doctest.h>

#include "tollgate/output/kafka/stats.hpp"

using namespace tg::kafka;

TEST_CASE("broker states are read from the statistics, without the internal broker") {
  const char* json = R"({"name":"tollgate#producer-1","type":"producer","ts":1,"tx_bytes":5000,"txmsg_bytes":20000,"brokers":{
    "127.0.0.1:9092/bootstrap":{"name":"127.0.0.1:9092/bootstrap","nodeid":-1,"nodename":"127.0.0.1:9092","source":"configured","state":"INIT","stateage":1},
    ":0/internal":{"name":":0/internal","nodeid":-1,"nodename":"","source":"internal","state":"UP"},
    "127.0.0.1:9093/2":{"name":"127.0.0.1:9093/2","nodeid":2,"source":"learned","state":"UP","toppars":{}},
    "127.0.0.1:9094/3":{"nodeid":3,"state":"DOWN","source":"learned","name":"127.0.0.1:9094/3"}},
    "topics":{}})";
  producer_stats st;
  REQUIRE(parse_stats(json, st));
  CHECK(st.tx_bytes == 5000);
  CHECK(st.txmsg_bytes == 20000);
  const auto& b = st.brokers;
  REQUIRE(b.size() == 3);
  CHECK(b[0].name == "127.0.0.1:9092/bootstrap");
  CHECK_FALSE(b[0].up());
  CHECK(b[1].name == "127.0.0.1:9093/2");
  CHECK(b[1].up());
  CHECK(b[2].name == "127.0.0.1:9094/3");
  CHECK(b[2].state == "DOWN");
}

TEST_CASE("a document that is not librdkafka's statistics is refused") {
  producer_stats st;
  CHECK_FALSE(parse_stats("not json", st));
  CHECK_FALSE(parse_stats("[1]", st));
  CHECK_FALSE(parse_stats(R"({"brokers":[]})", st));
  CHECK_FALSE(parse_stats(R"({"brokers":{"x":{"state":"UP"}}})", st));
  CHECK(parse_stats(R"({"brokers":{}})", st));
  CHECK(st.brokers.empty());
  CHECK(st.tx_bytes == 0);
}
