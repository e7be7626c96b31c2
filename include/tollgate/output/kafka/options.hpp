// SPDX-License-Identifier: Apache-2.0
// What the Kafka output is told by the command line (--upstream kafka://...,
// --kafka-namespace, --kafka-topic, --kafka-option). Plain data, no
// librdkafka: the flag table fills it without linking the output.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tg::kafka {

struct options {
  std::string url;                 // kafka://HOST:PORT[,HOST:PORT...] as given
  std::string ns = "default";      // OpenMeter namespace: the key prefix and the namespace header
  std::string topic;               // empty: om_<ns>_events, OpenMeter's default template
  // --kafka-option KEY=VALUE in the order given, passed to librdkafka after
  // tollgate's defaults (so they can override them). Values may be secrets:
  // never logged.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string dead_letter_path = "tollgate-dead-letter.jsonl";
  unsigned retry_initial_ms = 100;  // before producing a failed message again (doubles, full jitter)
  unsigned retry_max_ms = 30000;
};

}  // namespace tg::kafka
