// SPDX-License-Identifier: Apache-2.0
// The Kafka output's process side: the librdkafka configuration (tollgate's
// defaults, then every --kafka-option), the dead-letter file, one probe and
// one producer per shard.
#include "tollgate/output/kafka/backend.hpp"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <stdexcept>

#include "client.hpp"
#include "shard_producer.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/output/http/dead_letter.hpp"
#include "tollgate/output/kafka/probe.hpp"

namespace tg::kafka {
namespace {

// tollgate's defaults, applied before --kafka-option (which may override
// them). acks=all with idempotence: a delivery report means every in-sync
// replica has the message, and librdkafka's own retries never duplicate or
// reorder it. The codec is the one bench/RESULTS.md measured cheapest per
// event for tollgate's CPU ("Kafka output").
constexpr std::pair<const char*, const char*> defaults[] = {
    {"client.id", "tollgate"},
    {"acks", "all"},
    {"enable.idempotence", "true"},
    {"compression.codec", "lz4"},
    {"linger.ms", "5"},
    {"statistics.interval.ms", "1000"},  // broker states for the metrics and /readyz
};

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// librdkafka's message with the value masked, for a secret property.
std::string redact(std::string text, const std::string& value) {
  if (value.empty()) return text;
  for (std::size_t at = text.find(value); at != std::string::npos; at = text.find(value, at + 3)) {
    text.replace(at, value.size(), "***");
  }
  return text;
}

}  // namespace

result<std::string, std::string> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "kafka://";
  if (url.substr(0, scheme.size()) != scheme) return unexpected(std::string("does not start with kafka://"));
  std::string_view rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return unexpected(std::string("names no broker (kafka://HOST:PORT[,HOST:PORT...])"));
  std::string out;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view b = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (b.empty()) return unexpected(std::string("has an empty broker in its list"));
    if (contains(b, "/") || contains(b, "@") || contains(b, "?")) {
      return unexpected("broker \"" + std::string(b) + "\" is not HOST:PORT");
    }
    const std::size_t colon = b.rfind(':');
    if (colon != std::string_view::npos && b.front() != '[') {
      const std::string_view port = b.substr(colon + 1);
      if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
          std::atoi(std::string(port).c_str()) > 65535 || colon == 0) {
        return unexpected("broker \"" + std::string(b) + "\" is not HOST:PORT");
      }
    }
    if (!out.empty()) out += ',';
    out += b;
  }
  return out;
}

std::string default_topic(std::string_view ns) { return "om_" + std::string(ns) + "_events"; }

bool valid_namespace(std::string_view ns) noexcept {
  if (ns.empty() || ns.front() == '_' || ns.back() == '_') return false;
  char prev = 0;
  for (char c : ns) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '_') return false;
    if (c == '_' && prev == '_') return false;
    prev = c;
  }
  return true;
}

bool secret_property(std::string_view key) noexcept {
  return contains(key, "password") || contains(key, "secret") || contains(key, "key") || contains(key, "token") ||
         contains(key, "jaas") || contains(key, "oauthbearer.config") || contains(key, "sasl.username");
}

struct backend::impl {
  options opts;
  std::string brokers;
  shared_settings sh;
  rd_kafka_conf_t* conf = nullptr;
  std::vector<std::pair<std::string, std::string>> applied;  // for the log line, in order
  bool stats = true;
  std::unique_ptr<upstream::dead_letter_file> dead;
  std::vector<std::unique_ptr<probe>> probes;
  std::vector<const probe*> views;
  std::vector<client> clients;  // made by prepare(), taken by make_shard()

  void set(const std::string& key, const std::string& value, bool from_user) {
    char err[512];
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      const bool secret = secret_property(key);
      throw std::runtime_error(std::string(from_user ? "--kafka-option " : "kafka default ") + key + "=" +
                               (secret ? "***" : value) + ": " + (secret ? redact(err, value) : std::string(err)));
    }
    for (auto& [k, v] : applied) {
      if (k == key) {
        v = value;
        return;
      }
    }
    applied.emplace_back(key, value);
  }
};

backend::backend(const options& opts) : impl_(std::make_unique<impl>()) {
  impl& b = *impl_;
  b.opts = opts;
  auto brokers = parse_url(opts.url);
  if (!brokers) throw std::runtime_error("--upstream \"" + opts.url + "\": " + brokers.error());
  b.brokers = brokers.value();
  if (!valid_namespace(opts.ns)) {
    throw std::runtime_error("--kafka-namespace \"" + opts.ns +
                             "\": OpenMeter namespaces are letters and digits, in groups joined by single '_'");
  }
  b.sh.ns = opts.ns;
  b.sh.topic = opts.topic.empty() ? default_topic(opts.ns) : opts.topic;
  b.conf = rd_kafka_conf_new();
  try {
    b.set("bootstrap.servers", b.brokers, false);
    for (const auto& [k, v] : defaults) b.set(k, v, false);
    for (const auto& [k, v] : opts.settings) b.set(k, v, true);
  } catch (...) {
    rd_kafka_conf_destroy(b.conf);
    b.conf = nullptr;
    throw;
  }
  install_callbacks(b.conf);
  char buf[64];
  std::size_t size = sizeof buf;
  if (rd_kafka_conf_get(b.conf, "queue.buffering.max.messages", buf, &size) == RD_KAFKA_CONF_OK) {
    b.sh.max_in_flight = std::max<std::size_t>(1, std::strtoull(buf, nullptr, 10));
  }
  size = sizeof buf;
  if (rd_kafka_conf_get(b.conf, "statistics.interval.ms", buf, &size) == RD_KAFKA_CONF_OK) {
    b.stats = std::strtoull(buf, nullptr, 10) > 0;
  }
  size = sizeof buf;
  if (rd_kafka_conf_get(b.conf, "acks", buf, &size) == RD_KAFKA_CONF_OK && std::string_view(buf) != "-1" &&
      std::string_view(buf) != "all") {
    log::warn("kafka acks is not all: a delivery report no longer means every in-sync replica has the event",
              {{"acks", std::string(buf)}});
  }
  b.sh.conf = b.conf;
  b.sh.retry_initial_ms = opts.retry_initial_ms;
  b.sh.retry_max_ms = opts.retry_max_ms;
  b.dead = std::make_unique<upstream::dead_letter_file>(opts.dead_letter_path);
  b.sh.dead_letter_fd = b.dead->fd();
}

backend::~backend() {
  impl_->clients.clear();  // producers before the configuration they were made from
  if (impl_->conf != nullptr) rd_kafka_conf_destroy(impl_->conf);
}

std::string backend::describe() const { return "kafka://" + impl_->brokers + " topic " + impl_->sh.topic; }

const std::string& backend::topic() const noexcept { return impl_->sh.topic; }

std::string backend::settings_for_log() const {
  std::string out;
  for (const auto& [k, v] : impl_->applied) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    out += secret_property(k) ? "***" : v;
  }
  return out;
}

void backend::prepare(unsigned shards) {
  impl& b = *impl_;
  b.probes.clear();
  b.views.clear();
  b.clients.clear();
  for (unsigned i = 0; i < shards; ++i) {
    b.probes.push_back(std::make_unique<probe>());
    b.views.push_back(b.probes.back().get());
    // Made here, on the main thread before the shards start, so that what
    // librdkafka only checks when a producer is created (a missing CA file,
    // acks that idempotence forbids) fails the start.
    b.clients.emplace_back(b.conf, b.sh.topic, i);
  }
}

std::unique_ptr<output::shard_output> backend::make_shard(unsigned shard, reactor::uring& ring,
                                                          ring::event_ring& events) {
  impl& b = *impl_;
  return std::make_unique<shard_producer>(shard, b.sh, std::move(b.clients.at(shard)), ring, events,
                                          *b.probes.at(shard));
}

void backend::render_metrics(std::string& out) const { kafka::render_metrics(impl_->views, out); }

std::optional<std::uint64_t> backend::events_done(unsigned shard) const {
  const probe& p = *impl_->probes.at(shard);
  return p.delivered.get() + p.dead_lettered.get();
}

bool backend::ready() const {
  if (!impl_->stats) return true;  // statistics turned off: no way to tell
  for (const probe* p : impl_->views) {
    if (p->brokers_up.get() <= 0) return false;
  }
  return true;
}

}  // namespace tg::kafka
