// SPDX-License-Identifier: Apache-2.0
// The Kafka output's delivery policy (policy.hpp).
#include "tollgate/output/kafka/policy.hpp"

namespace tg::kafka {

verdict judge(rd_kafka_resp_err_t err) noexcept {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: return verdict::delivered;
    // The broker (or librdkafka before sending) says this message can never
    // be written: larger than message.max.bytes, a record or timestamp it
    // refuses (message.timestamp.difference.max.ms on old events), a message
    // librdkafka cannot encode.
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return verdict::dead_letter;
    default: return verdict::retry;
  }
}

}  // namespace tg::kafka
