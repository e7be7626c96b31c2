// SPDX-License-Identifier: Apache-2.0
// The Kafka output (--upstream kafka://...): every accepted event becomes one
// message in OpenMeter's format (message.hpp) on OpenMeter's ingest topic,
// produced by one librdkafka producer per shard, and leaves the event ring
// only when its delivery report says the brokers have it. The backend is
// built on the main thread (it checks the librdkafka configuration there, so
// an unknown option fails the start with librdkafka's own message) and makes
// each shard's producer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/result.hpp"
#include "tollgate/output/kafka/options.hpp"
#include "tollgate/output/output.hpp"

namespace tg::kafka {

// "kafka://HOST:PORT[,HOST:PORT...]" -> librdkafka's bootstrap.servers.
result<std::string, std::string> parse_url(std::string_view url);
// OpenMeter's default topic for a namespace: om_<ns>_events.
std::string default_topic(std::string_view ns);
// Whether a namespace is one OpenMeter's sink worker subscribes to
// (^om_([A-Za-z0-9]+(?:_[A-Za-z0-9]+)*)_events$ on the default topic).
bool valid_namespace(std::string_view ns) noexcept;
// Whether a librdkafka property may hold a secret (passwords, keys, tokens,
// JAAS and OAuth settings): its value is never logged.
bool secret_property(std::string_view key) noexcept;

class backend final : public output::backend {
 public:
  // Builds and checks the configuration, opens the dead-letter file; throws
  // std::runtime_error (a bad URL, an unknown or invalid --kafka-option).
  explicit backend(const options& opts);
  ~backend() override;

  std::string describe() const override;
  // Creates one producer per shard (threads start, nothing blocks).
  void prepare(unsigned shards) override;
  std::unique_ptr<output::shard_output> make_shard(unsigned shard, reactor::uring& ring,
                                                   ring::event_ring& events) override;
  bool confirms_delivery() const override { return true; }
  void render_metrics(std::string& out) const override;
  std::optional<std::uint64_t> events_done(unsigned shard) const override;
  // False while some shard's producer is connected to no broker.
  bool ready() const override;

  const std::string& topic() const noexcept;
  // Every librdkafka property tollgate sets, KEY=VALUE, secrets as ***.
  std::string settings_for_log() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::kafka
