// SPDX-License-Identifier: Apache-2.0
// Creation and destruction of one shard's librdkafka producer.
#include "client.hpp"

#include <stdexcept>
#include <utility>

namespace tg::kafka {

client::client(const rd_kafka_conf_t* tmpl, const std::string& topic, unsigned shard)
    : target_(std::make_unique<callback_target>()) {
  target_->shard = shard;
  rd_kafka_conf_t* conf = rd_kafka_conf_dup(tmpl);
  rd_kafka_conf_set_opaque(conf, target_.get());
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new only takes it on success
    throw std::runtime_error(std::string("kafka: cannot create the producer: ") + err);
  }
  rkt_ = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  if (rkt_ == nullptr) {
    const std::string why = rd_kafka_err2str(rd_kafka_last_error());
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    throw std::runtime_error("kafka: topic \"" + topic + "\": " + why);
  }
  rkqu_ = rd_kafka_queue_get_main(rk_);
}

client::~client() { destroy(); }

client::client(client&& o) noexcept
    : rk_(std::exchange(o.rk_, nullptr)), rkt_(std::exchange(o.rkt_, nullptr)), rkqu_(std::exchange(o.rkqu_, nullptr)),
      target_(std::move(o.target_)) {}

client& client::operator=(client&& o) noexcept {
  if (this != &o) {
    destroy();
    rk_ = std::exchange(o.rk_, nullptr);
    rkt_ = std::exchange(o.rkt_, nullptr);
    rkqu_ = std::exchange(o.rkqu_, nullptr);
    target_ = std::move(o.target_);
  }
  return *this;
}

void client::destroy() noexcept {
  if (rk_ == nullptr) return;
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
  if (rkqu_ != nullptr) rd_kafka_queue_destroy(rkqu_);  // our reference; before the producer
  rkqu_ = nullptr;
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  rkt_ = nullptr;
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

}  // namespace tg::kafka
