// SPDX-License-Identifier: Apache-2.0
// One shard's side of the Kafka output: a component of the shard's loop with a
// librdkafka producer of its own. librdkafka's threads do the network; the
// shard learns of delivery reports through an eventfd that librdkafka writes
// when its main queue becomes non-empty (rd_kafka_queue_io_event_enable),
// watched by a poll on the shard's io_uring, and then serves the queue with
// rd_kafka_queue_poll(queue, 0), which never waits. Nothing here calls a librdkafka
// function that blocks, except at shutdown (destroying the producer).
// Lives on its shard's thread.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "tollgate/output/http/backoff.hpp"
#include "tollgate/output/kafka/message.hpp"
#include "tollgate/output/kafka/probe.hpp"
#include "tollgate/output/kafka/release_tracker.hpp"
#include "tollgate/output/kafka/value_store.hpp"
#include "tollgate/output/output.hpp"

namespace tg::kafka {

// What every shard's producer shares, built at start-up and read-only after.
struct shared_settings {
  std::string ns;
  std::string topic;
  const rd_kafka_conf_t* conf = nullptr;  // the template each producer is made from
  int dead_letter_fd = -1;
  std::size_t max_in_flight = 100000;     // librdkafka's queue.buffering.max.messages
  unsigned retry_initial_ms = 100;
  unsigned retry_max_ms = 30000;
};

// Sets up the template configuration: delivery reports, statistics and
// errors as events on the main queue, and the log callback (each producer's
// opaque is its callback_target).
void install_callbacks(rd_kafka_conf_t* conf);

class shard_producer final : public output::shard_output {
 public:
  shard_producer(unsigned shard, const shared_settings& s, client c, reactor::uring& ring,
                 ring::event_ring& events, probe& m);
  ~shard_producer() override;
  shard_producer(const shard_producer&) = delete;
  shard_producer& operator=(const shard_producer&) = delete;

  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) override;
  // Serves librdkafka's queue when it signalled, frees the delivered prefix
  // of the ring, produces failed messages again (after their backoff) and
  // then new records.
  void poll(std::uint64_t now_ms) override;
  // Serves the queue on every tick as well (statistics, and a safety net
  // under the eventfd), and replaces a producer that hit a fatal error.
  void tick(std::uint64_t now_ms) override;
  long wakeup_in_us(std::uint64_t now_ms) const override;

  std::uint64_t records_released() const override { return tracker_.released(); }
  bool idle() const override { return tracker_.empty() && events_.empty(); }
  std::uint64_t events_left() const override;
  void close() override;

  // ---- librdkafka's events, served by serve() on this thread ----
  void on_delivery(const rd_kafka_message_t& msg);
  void on_stats(std::string_view json);
  void on_error(rd_kafka_resp_err_t err, const char* reason);

 private:
  enum class op : std::uint8_t { wake = 1 };
  struct retry {
    std::uint64_t seq;
  };

  void attach(client c);
  void arm();
  void serve();
  void restart();
  void produce_retries();
  void produce_new();
  // Produces ring record `bytes` as message `seq`. False when librdkafka's
  // queue is full (nothing was produced; try again later).
  bool produce(std::uint64_t seq, std::span<const char> bytes);
  void fail(std::uint64_t seq, rd_kafka_resp_err_t err);
  void dead_letter(std::uint64_t seq, std::span<const char> bytes, int status, std::string_view detail);
  void schedule_retry(std::uint64_t seq);

  unsigned shard_;
  const shared_settings& s_;
  reactor::uring& ring_;
  ring::event_ring& events_;
  probe& m_;
  client client_;
  int efd_ = -1;
  std::uint64_t efd_value_ = 0;
  bool armed_ = false;
  bool fired_ = false;
  bool queue_full_ = false;
  bool fatal_ = false;
  bool closing_ = false;
  encoder enc_;
  release_tracker tracker_;
  value_store values_;                // message values while librdkafka points at them
  std::uint64_t cursor_ = 0;          // ring position of the next record never produced
  std::deque<retry> retries_;
  upstream::backoff bo_;
  std::uint64_t now_ms_ = 0;
  std::uint64_t now_ns_ = 0;          // one clock read per loop iteration, for latencies
  std::uint64_t pause_until_ = 0;     // retries wait until then
  std::uint64_t last_warn_ms_ = 0;
  char ingested_at_[rfc3339_nano_max];
  std::size_t ingested_len_ = 0;
  std::string dead_;                  // dead-letter lines being built
  producer_stats stats_;
  std::uint64_t tx_base_ = 0;     // bytes sent by producers this shard replaced
  std::uint64_t txmsg_base_ = 0;
  std::vector<std::thread> retired_;  // old producers being destroyed off the loop
};

}  // namespace tg::kafka
