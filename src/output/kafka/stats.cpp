// SPDX-License-Identifier: Apache-2.0
// Broker states out of librdkafka's statistics JSON (simdjson On-Demand).
#include "tollgate/output/kafka/stats.hpp"

#include <simdjson.h>

namespace tg::kafka {

bool parse_stats(std::string_view stats_json, producer_stats& st) {
  std::vector<broker_state>& out = st.brokers;
  out.clear();
  st.tx_bytes = st.txmsg_bytes = 0;
  // Once per statistics interval, so a padded copy and a parser each time
  // cost nothing worth keeping state for.
  simdjson::padded_string padded(stats_json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS) return false;
  simdjson::ondemand::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return false;
  // librdkafka writes tx_bytes and txmsg_bytes before brokers; read in order.
  std::uint64_t n = 0;
  if (top.find_field_unordered("tx_bytes").get_uint64().get(n) == simdjson::SUCCESS) st.tx_bytes = n;
  if (top.find_field_unordered("txmsg_bytes").get_uint64().get(n) == simdjson::SUCCESS) st.txmsg_bytes = n;
  simdjson::ondemand::object brokers;
  if (top.find_field_unordered("brokers").get_object().get(brokers) != simdjson::SUCCESS) return false;
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
