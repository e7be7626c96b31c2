// SPDX-License-Identifier: Apache-2.0
// What a failed delivery means for the event. Only an error that says the
// message itself can never be accepted (too large, a record or timestamp the
// broker refuses) sends it to the dead-letter file; everything else (message
// timeouts while brokers are down, leader changes, authorisation or topic
// errors, a purge) keeps it and produces it again: a configuration or an
// outage is not the event's fault. Pure.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>

namespace tg::kafka {

enum class verdict : std::uint8_t { delivered, retry, dead_letter };

verdict judge(rd_kafka_resp_err_t err) noexcept;

}  // namespace tg::kafka
