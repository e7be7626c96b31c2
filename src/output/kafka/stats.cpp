// SPDX-License-Identifier: Apache-2.0
// Broker states out of librdkafka's statistics JSON (simdjson On-Demand).
#include "tollgate/output/kafka/stats.hpp"

#include <simdjson.h>

namespace tg::kafka {

bool parse_broker_states(std::string_view stats_json, std::vector<broker_state>& out) {
  out.clear();
  // Once per statistics interval, so a padded copy and a parser each time
  // cost nothing worth keeping state for.
  simdjson::padded_string padded(stats_json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return false;
  simdjson::ondemand::object brokers;
  if (doc["brokers"].get_object().get(brokers) != simdjson::SUCCESS) return false;
  for (auto field : brokers) {
    simdjson::ondemand::object b;
    if (field.value().get_object().get(b) != simdjson::SUCCESS) return false;
    std::string_view name, source, state;
    if (b.find_field_unordered("name").get_string().get(name) != simdjson::SUCCESS) return false;
    if (b.find_field_unordered("source").get_string().get(source) != simdjson::SUCCESS) source = {};
    if (b.find_field_unordered("state").get_string().get(state) != simdjson::SUCCESS) return false;
    if (source == "internal") continue;
    out.push_back({std::string(name), std::string(state)});
  }
  return true;
}

}  // namespace tg::kafka
