// SPDX-License-Identifier: Apache-2.0
// The Kafka output's metric families.
#include "tollgate/metrics/exposition.hpp"
#include "tollgate/output/kafka/probe.hpp"

namespace tg::kafka {

void render_metrics(std::span<const probe* const> shards, std::string& out) {
  using metrics::counter;
  struct row {
    const char* name;
    const char* help;
    const counter probe::*member;
  };
  static const row rows[] = {
      {"tollgate_kafka_messages_produced_total", "Messages handed to librdkafka (first attempts and produced again).",
       &probe::produced},
      {"tollgate_kafka_messages_delivered_total", "Messages the brokers acknowledged (with --kafka-option acks, all by default).",
       &probe::delivered},
      {"tollgate_kafka_messages_failed_total", "Delivery reports with an error; each message is produced again or dead-lettered.",
       &probe::failed},
      {"tollgate_kafka_messages_reproduced_total", "Messages produced again after a failed delivery (the event stays buffered meanwhile).",
       &probe::reproduced},
      {"tollgate_dead_lettered_events_total", "Events written to the dead-letter file (refused by the broker on their own).",
       &probe::dead_lettered},
      {"tollgate_kafka_queue_full_total", "Times librdkafka's queue was full and producing waited for delivery reports.",
       &probe::queue_full},
      {"tollgate_kafka_producer_restarts_total", "Producers replaced after a fatal librdkafka error.", &probe::restarts},
  };
  for (const row& r : rows) {
    metrics::head(out, r.name, "counter", r.help);
    metrics::sample(out, r.name, {}, metrics::sum(shards, [&](const probe& p) { return (p.*r.member).get(); }));
  }
  metrics::head(out, "tollgate_kafka_sent_bytes_total", "counter",
                "Bytes sent to the brokers (compressed), as of librdkafka's last statistics.");
  metrics::sample(out, "tollgate_kafka_sent_bytes_total", {},
                  metrics::sum(shards, [](const probe& p) { return static_cast<std::uint64_t>(p.tx_bytes.get()); }));
  metrics::head(out, "tollgate_kafka_message_bytes_total", "counter",
                "Message bytes sent before compression, as of librdkafka's last statistics.");
  metrics::sample(out, "tollgate_kafka_message_bytes_total", {},
                  metrics::sum(shards, [](const probe& p) { return static_cast<std::uint64_t>(p.txmsg_bytes.get()); }));
  metrics::head(out, "tollgate_kafka_delivery_latency_seconds", "histogram",
                "Time from producing a message to its successful delivery report.");
  metrics::histogram_samples(out, "tollgate_kafka_delivery_latency_seconds", shards,
                             [](const probe& p) -> const auto& { return p.latency_seconds; });
  metrics::head(out, "tollgate_kafka_messages_in_flight", "gauge",
                "Messages produced and not yet acknowledged, per shard (each shard has its own producer).");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    const std::int64_t v = shards[i]->in_flight.get();
    metrics::sample(out, "tollgate_kafka_messages_in_flight", metrics::shard_label(i),
                    static_cast<std::uint64_t>(v > 0 ? v : 0));
  }
  metrics::head(out, "tollgate_kafka_broker_up", "gauge",
                "1 while the shard's producer is connected to the broker (librdkafka state UP), else 0.");
  for (std::size_t i = 0; i < shards.size(); ++i) {
    for (const broker_state& b : shards[i]->brokers()) {
      std::string labels = metrics::shard_label(i) + ",broker=\"";
      for (char c : b.name) {
        if (c == '"' || c == '\\') labels += '\\';
        labels += c;
      }
      labels += '"';
      metrics::sample(out, "tollgate_kafka_broker_up", labels, b.up() ? 1 : 0);
    }
  }
}

}  // namespace tg::kafka
