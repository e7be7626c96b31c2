// SPDX-License-Identifier: Apache-2.0
// One librdkafka producer, its topic handle and its main queue (where
// delivery reports, statistics and errors arrive as events), owned by one
// shard. Its log callback finds the shard through a target that the
// producer's opaque points to; the shard clears the target before it lets go
// of a producer, so nothing served after that (during a destroy) touches it.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>

namespace tg::kafka {

// The producer's opaque, read by the log callback on librdkafka's threads
// (delivery reports, statistics and errors come as events the shard polls).
struct callback_target {
  unsigned shard = 0;
};

class client {
 public:
  client() = default;
  // Creates a producer from a copy of `tmpl`; throws std::runtime_error with
  // librdkafka's own message. Starts librdkafka's threads; does not block on
  // the network.
  client(const rd_kafka_conf_t* tmpl, const std::string& topic, unsigned shard);
  ~client();
  client(client&& o) noexcept;
  client& operator=(client&& o) noexcept;

  rd_kafka_t* rk() const noexcept { return rk_; }
  rd_kafka_topic_t* topic() const noexcept { return rkt_; }
  rd_kafka_queue_t* queue() const noexcept { return rkqu_; }
  explicit operator bool() const noexcept { return rk_ != nullptr; }

  // Drops whatever is queued or in flight (no delivery reports are served
  // after this) and destroys the producer: joins librdkafka's threads, so it
  // blocks briefly. Only at shutdown, or on a helper thread.
  void destroy() noexcept;

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  rd_kafka_queue_t* rkqu_ = nullptr;
  std::unique_ptr<callback_target> target_;
};

}  // namespace tg::kafka
