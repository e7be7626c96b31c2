// SPDX-License-Identifier: Apache-2.0
// The Kafka output's metrics, one probe per shard (each shard has its own
// producer): messages produced, delivered, failed and produced again, dead
// letters, delivery latency, messages in flight and librdkafka's view of each
// broker. Counters are written only by the shard's thread and summed on
// scrape; the broker list changes once per statistics interval and is
// guarded by a mutex because a scrape on another shard reads its strings.
#pragma once

#include <cstddef>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "tollgate/metrics/counter.hpp"
#include "tollgate/metrics/histogram.hpp"
#include "tollgate/output/kafka/stats.hpp"

namespace tg::kafka {

struct probe {
  metrics::counter produced;       // messages handed to librdkafka (first time and again)
  metrics::counter delivered;      // delivery reports: the broker has the message
  metrics::counter failed;         // delivery reports with an error (each one is produced again or dead-lettered)
  metrics::counter reproduced;     // messages produced again after a failed delivery
  metrics::counter dead_lettered;  // events written to the dead-letter file
  metrics::counter queue_full;     // produce() refused because librdkafka's queue was full (tried again later)
  metrics::counter restarts;       // producers replaced after a fatal librdkafka error
  metrics::histogram<14> latency_seconds{
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  metrics::gauge in_flight;        // messages produced and not yet reported
  metrics::gauge brokers_up;       // brokers librdkafka last reported UP
  metrics::gauge tx_bytes;         // bytes sent to the brokers, from librdkafka's statistics
  metrics::gauge txmsg_bytes;      // message bytes (before compression), likewise

  // librdkafka's brokers as of its last statistics.
  void set_brokers(std::vector<broker_state> b) {
    std::lock_guard<std::mutex> lock(mu_);
    brokers_ = std::move(b);
  }
  std::vector<broker_state> brokers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return brokers_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<broker_state> brokers_;
};

// Appends the tollgate_kafka_* families and tollgate_dead_lettered_events_total
// over the shards' probes (index = shard).
void render_metrics(std::span<const probe* const> shards, std::string& out);

}  // namespace tg::kafka
