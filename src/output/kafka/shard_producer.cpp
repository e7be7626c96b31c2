// SPDX-License-Identifier: Apache-2.0
// The shard's Kafka producer: ring records in ring order become messages
// (sequence number as the message opaque), delivery reports mark them done
// in any order, and the ring is released up to the done prefix, so the spool
// and --ack upstream see only what the brokers acknowledged.
#include "shard_producer.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/output/http/dead_letter.hpp"
#include "tollgate/output/kafka/policy.hpp"

namespace tg::kafka {
namespace {

// From librdkafka's own threads: tollgate's logger is thread-safe (one
// write per line). librdkafka never puts configuration values in its logs
// unless `debug` asks for them.
void log_cb(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  const auto* t = static_cast<const callback_target*>(rd_kafka_opaque(rk));
  const unsigned shard = t != nullptr ? t->shard : 0;
  // syslog levels. librdkafka reports each failed broker connection at 3;
  // during an outage that is expected, and the metrics count it: a warning.
  const log::level l = level <= 2   ? log::level::error
                       : level <= 4 ? log::level::warn
                       : level <= 6 ? log::level::info
                                    : log::level::debug;
  log::write(l, "librdkafka", {{"shard", shard}, {"facility", fac}, {"message", buf}});
}

}  // namespace

void install_callbacks(rd_kafka_conf_t* conf) {
  // Delivery reports, statistics and errors as events on the main queue,
  // served in batches by serve(): one call hands over up to a few hundred
  // reports, where a delivery callback costs a call per message
  // (bench/output/kafka/floor_bench.cpp, bench/RESULTS.md).
  rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_STATS | RD_KAFKA_EVENT_ERROR);
  rd_kafka_conf_set_log_cb(conf, log_cb);
}

shard_producer::shard_producer(unsigned shard, const shared_settings& s, client c, reactor::uring& ring,
                               ring::event_ring& events, probe& m)
    : shard_(shard), s_(s), ring_(ring), events_(events), m_(m), tracker_(s.max_in_flight), values_(s.max_in_flight),
      bo_(s.retry_initial_ms, s.retry_max_ms, 0x9e3779b97f4a7c15ull ^ (shard * 0x100000001b3ull) ^ monotonic_ns()) {
  efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // librdkafka requires a non-blocking fd
  if (efd_ < 0) throw std::system_error(errno, std::generic_category(), "kafka: eventfd");
  cursor_ = events_.read_begin();
  attach(std::move(c));
}

shard_producer::~shard_producer() {
  close();
  if (efd_ >= 0) ::close(efd_);
}

void shard_producer::attach(client c) {
  client_ = std::move(c);
  // librdkafka writes these 8 bytes (an eventfd increment of 1) whenever an
  // element is enqueued on the empty main queue: delivery reports, errors
  // and statistics all land there.
  static const std::uint64_t one = 1;
  rd_kafka_queue_io_event_enable(client_.queue(), efd_, &one, sizeof one);
  fired_ = true;              // anything queued before the fd was set raises no event
}

void shard_producer::arm() {
  if (armed_ || closing_) return;
  // A poll rather than a read: io_uring answers a read on a non-blocking fd
  // with -EAGAIN instead of waiting, and librdkafka needs the fd non-blocking.
  io_uring_sqe* sqe = ring_.sqe();
  io_uring_prep_poll_add(sqe, efd_, POLLIN);
  io_uring_sqe_set_data64(sqe, reactor::encode(id(), op::wake, 0, 0));
  armed_ = true;
}

void shard_producer::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (t.op != static_cast<std::uint8_t>(op::wake)) return;
  (void)cqe;
  armed_ = false;
  fired_ = true;
}

void shard_producer::serve() {
  if (!client_) return;
  std::uint64_t v;
  if (fired_) {
    // Reset the eventfd before serving: an element enqueued from here on
    // either is served below or raises the next event.
    while (::read(efd_, &v, sizeof v) < 0 && errno == EINTR) {
    }
    fired_ = false;
  }
  now_ns_ = monotonic_ns();
  queue_full_ = false;  // reports free room; if not, the next produce says so again
  // Everything queued now, without waiting (timeout 0). A bound on events
  // per call keeps one iteration short when a large backlog of reports is
  // waiting; what is left raises the eventfd again (fired_ stays set).
  constexpr int max_events = 64;
  const rd_kafka_message_t* batch[256];
  for (int n = 0; n < max_events; ++n) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(client_.queue(), 0);
    if (ev == nullptr) return;
    switch (rd_kafka_event_type(ev)) {
      case RD_KAFKA_EVENT_DR:
        for (std::size_t k; (k = rd_kafka_event_message_array(ev, batch, 256)) > 0;) {
          for (std::size_t i = 0; i < k; ++i) on_delivery(*batch[i]);
        }
        break;
      case RD_KAFKA_EVENT_STATS: on_stats(rd_kafka_event_stats(ev)); break;
      case RD_KAFKA_EVENT_ERROR:
        on_error(rd_kafka_event_error_is_fatal(ev) ? RD_KAFKA_RESP_ERR__FATAL : rd_kafka_event_error(ev),
                 rd_kafka_event_error_string(ev));
        break;
      default: break;
    }
    rd_kafka_event_destroy(ev);
  }
  fired_ = true;  // the bound was reached: serve the rest on the next iteration
}

void shard_producer::poll(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (closing_) return;
  if (fired_) serve();
  if (fatal_) restart();
  if (auto upto = tracker_.pop_done()) {
    events_.release(*upto);
    values_.release_below(tracker_.first());
  }
  // One clock read each per iteration with something to produce: every
  // message of the iteration carries the same ingested_at.
  ring::event_ring::record rec;
  if (!retries_.empty() || (!tracker_.full() && events_.read(cursor_, rec))) {
    now_ns_ = monotonic_ns();
    ingested_len_ = format_rfc3339_nano(wall_now(), ingested_at_);
  }
  produce_retries();
  produce_new();
  m_.in_flight.set(static_cast<std::int64_t>(tracker_.in_flight()));
  arm();
}

void shard_producer::tick(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (closing_) return;
  serve();
  if (fatal_) restart();
}

long shard_producer::wakeup_in_us(std::uint64_t now_ms) const {
  if (closing_) return -1;
  if (fired_ || fatal_) return 0;
  ring::event_ring::record rec;
  if (!queue_full_ && !tracker_.full() && events_.read(cursor_, rec)) return 0;
  if (!retries_.empty() && !queue_full_) {
    return pause_until_ > now_ms ? static_cast<long>(pause_until_ - now_ms) * 1000 : 0;
  }
  return -1;
}

void shard_producer::produce_retries() {
  if (retries_.empty() || now_ms_ < pause_until_) return;
  while (!retries_.empty() && !queue_full_ && client_) {
    const std::uint64_t seq = retries_.front().seq;
    if (!tracker_.pending(seq)) {  // done meanwhile (a late report of an earlier attempt)
      retries_.pop_front();
      continue;
    }
    ring::event_ring::record rec;
    if (!events_.read(tracker_.begin_of(seq), rec)) {
      retries_.pop_front();  // cannot happen: an unreleased record is still in the ring
      continue;
    }
    tracker_.restamp(seq, now_ns_);
    if (!produce(seq, rec.bytes)) break;
    retries_.pop_front();
    m_.reproduced.add();
  }
}

void shard_producer::produce_new() {
  ring::event_ring::record rec;
  while (!queue_full_ && !tracker_.full() && client_ && events_.read(cursor_, rec)) {
    const std::uint64_t seq = tracker_.end();
    tracker_.push(cursor_, rec.next, now_ns_);
    if (!produce(seq, rec.bytes)) {
      tracker_.unpush();  // not taken: the same record is tried again later
      break;
    }
    cursor_ = rec.next;
  }
}

bool shard_producer::produce(std::uint64_t seq, std::span<const char> bytes) {
  auto msg = enc_.encode({bytes.data(), bytes.size()}, s_.ns);
  if (!msg) {
    // Validated events always encode; one that does not is kept for an
    // operator rather than sent in a shape the sink would drop.
    dead_letter(seq, bytes, RD_KAFKA_RESP_ERR__BAD_MSG, describe(msg.error()));
    return true;
  }
  const message& mm = msg.value();
  // No RD_KAFKA_MSG_F_COPY: librdkafka points at the value in values_, which
  // keeps it until the ring is released past `seq` (the key and the headers
  // are copied by librdkafka whatever the flags). The partition is
  // librdkafka's consistent partitioner's (CRC32 of the key), as OpenMeter's
  // own producer places it: deduplication needs every copy of an event on
  // one partition (docs/kafka.md, "Partitions").
  const std::string_view value = values_.put(seq, mm.value);
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      client_.rk(), RD_KAFKA_V_RKT(client_.topic()), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
      RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
      RD_KAFKA_V_KEY(mm.key.data(), mm.key.size()), RD_KAFKA_V_TIMESTAMP(mm.timestamp_ms),
      RD_KAFKA_V_HEADER("namespace", s_.ns.data(), static_cast<ssize_t>(s_.ns.size())),
      RD_KAFKA_V_HEADER("specversion", mm.specversion.data(), static_cast<ssize_t>(mm.specversion.size())),
      RD_KAFKA_V_HEADER("ingested_at", ingested_at_, static_cast<ssize_t>(ingested_len_)),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq))), RD_KAFKA_V_END);
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR: m_.produced.add(); return true;
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      // Never RD_KAFKA_MSG_F_BLOCK on the shard: wait for delivery reports.
      queue_full_ = true;
      m_.queue_full.add();
      return false;
    case RD_KAFKA_RESP_ERR__FATAL:
      fatal_ = true;
      schedule_retry(seq);
      return true;
    default:
      if (judge(err) == verdict::dead_letter) {
        dead_letter(seq, bytes, err, rd_kafka_err2str(err));
      } else {
        schedule_retry(seq);
      }
      return true;
  }
}

void shard_producer::on_delivery(const rd_kafka_message_t& msg) {
  const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(msg._private));
  if (!tracker_.pending(seq)) return;  // stale: a report for an attempt already settled
  if (msg.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    tracker_.complete(seq);
    m_.delivered.add();
    m_.latency_seconds.observe(static_cast<double>(now_ns_ - tracker_.stamp_of(seq)) / 1e9);
    if (bo_.attempt() != 0) bo_.reset();
    pause_until_ = 0;
    return;
  }
  m_.failed.add();
  fail(seq, msg.err);
}

void shard_producer::fail(std::uint64_t seq, rd_kafka_resp_err_t err) {
  if (judge(err) == verdict::dead_letter) {
    ring::event_ring::record rec;
    if (events_.read(tracker_.begin_of(seq), rec)) dead_letter(seq, rec.bytes, err, rd_kafka_err2str(err));
    return;
  }
  if (now_ms_ - last_warn_ms_ > 10000 || last_warn_ms_ == 0) {
    log::warn("kafka delivery failed; the event is kept and produced again",
              {{"shard", shard_}, {"error", rd_kafka_err2name(err)}, {"detail", rd_kafka_err2str(err)}});
    last_warn_ms_ = now_ms_;
  }
  schedule_retry(seq);
}

void shard_producer::schedule_retry(std::uint64_t seq) {
  // One backoff for the shard, as in the HTTP output: a burst of timeouts
  // (every queued message of a down broker) waits once, not once each.
  if (now_ms_ >= pause_until_) pause_until_ = now_ms_ + bo_.next_delay_ms();
  retries_.push_back({seq});
}

void shard_producer::dead_letter(std::uint64_t seq, std::span<const char> bytes, int status, std::string_view detail) {
  dead_.clear();
  upstream::append_dead_letter(dead_, {bytes.data(), bytes.size()}, status, detail, wall_now());
  // Rare (an event the broker refuses on its own), so a plain append on the
  // shard thread is acceptable; O_APPEND keeps lines from several shards whole.
  const char* p = dead_.data();
  std::size_t left = dead_.size();
  while (left > 0) {
    const ssize_t w = ::write(s_.dead_letter_fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      log::error("cannot write the dead-letter file; the event is kept", {{"error", std::strerror(errno)}});
      schedule_retry(seq);
      return;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  log::warn("kafka refused an event; written to the dead-letter file",
            {{"shard", shard_}, {"status", status}, {"detail", detail}});
  m_.dead_lettered.add();
  tracker_.complete(seq);
}

void shard_producer::on_stats(std::string_view json) {
  if (!parse_stats(json, stats_)) return;
  std::int64_t up = 0;
  for (const broker_state& b : stats_.brokers) up += b.up() ? 1 : 0;
  m_.brokers_up.set(up);
  // librdkafka's totals are per producer: a replaced producer starts from 0,
  // so what the old one sent is kept as a base.
  m_.tx_bytes.set(static_cast<std::int64_t>(tx_base_ + stats_.tx_bytes));
  m_.txmsg_bytes.set(static_cast<std::int64_t>(txmsg_base_ + stats_.txmsg_bytes));
  m_.set_brokers(stats_.brokers);
}

void shard_producer::on_error(rd_kafka_resp_err_t err, const char* reason) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    fatal_ = true;
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) m_.brokers_up.set(0);
  log::warn("kafka", {{"shard", shard_}, {"error", rd_kafka_err2name(err)}, {"detail", reason}});
}

void shard_producer::restart() {
  fatal_ = false;
  char why[512] = "";
  if (client_) rd_kafka_fatal_error(client_.rk(), why, sizeof why);
  log::error("kafka producer hit a fatal error; replacing it, undelivered events are produced again",
             {{"shard", shard_}, {"detail", why}});
  client fresh;
  try {
    fresh = client(s_.conf, s_.topic, shard_);
  } catch (const std::exception& e) {
    log::error("cannot create a new kafka producer; trying again on the next tick", {{"error", e.what()}});
    fatal_ = true;
    return;
  }
  // The old producer's threads are joined off the loop: rd_kafka_destroy
  // waits for them. Its callbacks already point nowhere.
  tx_base_ += stats_.tx_bytes;
  txmsg_base_ += stats_.txmsg_bytes;
  stats_ = {};
  client old = std::move(client_);
  // Its threads may read message values until it is gone: the chunks they
  // point into live until then.
  retired_.emplace_back([c = std::move(old), keep = values_.share()]() mutable { c.destroy(); });
  attach(std::move(fresh));
  m_.restarts.add();
  // Every record not yet acknowledged goes again through the new producer.
  retries_.clear();
  for (std::uint64_t seq = tracker_.first(); seq != tracker_.end(); ++seq) {
    if (tracker_.pending(seq)) retries_.push_back({seq});
  }
}

std::uint64_t shard_producer::events_left() const {
  std::uint64_t n = 0;
  ring::event_ring::record rec;
  for (std::uint64_t pos = events_.read_begin(); events_.read(pos, rec); pos = rec.next) ++n;
  return n;
}

void shard_producer::close() {
  if (closing_) return;
  closing_ = true;
  client_.destroy();  // shutdown: the one place this thread waits on librdkafka
  for (std::thread& t : retired_) t.join();
  retired_.clear();
}

}  // namespace tg::kafka
