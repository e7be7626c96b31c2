// SPDX-License-Identifier: Apache-2.0
// librdkafka's statistics (statistics.interval.ms, a JSON document), read for
// one thing: which brokers the producer is connected to. That is what the
// broker metrics show and what /readyz asks. A protocol core: bytes in, a
// list out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tg::kafka {

struct broker_state {
  std::string name;   // librdkafka's name: "host:port/id", "host:port/bootstrap"
  std::string state;  // "UP", "DOWN", "CONNECT", "INIT", ...
  bool up() const noexcept { return state == "UP"; }
};

// Fills `out` with the brokers of a statistics document, leaving out
// librdkafka's internal pseudo-broker; false when the document is not one.
bool parse_broker_states(std::string_view stats_json, std::vector<broker_state>& out);

}  // namespace tg::kafka
