// SPDX-License-Identifier: Apache-2.0
// librdkafka's statistics (statistics.interval.ms, a JSON document), read for
// two things: which brokers the producer is connected to (what the broker
// metrics show and what /readyz asks) and the bytes it sent (what compression
// saves). A protocol core: bytes in, values out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tg::kafka {

struct broker_state {
  std::string name;   // librdkafka's name: "host:port/id", "host:port/bootstrap"
  std::string state;  // "UP", "DOWN", "CONNECT", "INIT", ...
  bool up() const noexcept { return state == "UP"; }
};

struct producer_stats {
  std::vector<broker_state> brokers;  // without librdkafka's internal pseudo-broker
  std::uint64_t tx_bytes = 0;         // bytes sent to the brokers (after compression)
  std::uint64_t txmsg_bytes = 0;      // message bytes sent (before compression)
};

// Reads a statistics document; false when it is not one.
bool parse_stats(std::string_view stats_json, producer_stats& out);

}  // namespace tg::kafka
