// SPDX-License-Identifier: Apache-2.0
// Only errors about the message itself dead-letter it; outages, timeouts,
// configuration and authorisation errors keep it for another attempt.
#include <doctest/doctest.h>

#include <initializer_list>

#include "tollgate/output/kafka/policy.hpp"

using namespace tg::kafka;

TEST_CASE("a delivery without error is delivered") { CHECK(judge(RD_KAFKA_RESP_ERR_NO_ERROR) == verdict::delivered); }

TEST_CASE("messages the broker refuses on their own go to the dead-letter file") {
  for (auto e : {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_MSG, RD_KAFKA_RESP_ERR_INVALID_RECORD,
                 RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP, RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE}) {
    CAPTURE(rd_kafka_err2name(e));
    CHECK(judge(e) == verdict::dead_letter);
  }
}

TEST_CASE("timeouts, outages and configuration errors are retried, never dropped") {
  for (auto e : {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                 RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
                 RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT, RD_KAFKA_RESP_ERR__FATAL,
                 RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER}) {
    CAPTURE(rd_kafka_err2name(e));
    CHECK(judge(e) == verdict::retry);
  }
}
