// SPDX-License-Identifier: Apache-2.0
// The Kafka output's start-up checks: the kafka:// URL, the namespace and
// topic, --kafka-option passed to librdkafka (an unknown property fails with
// librdkafka's own message) and secrets kept out of messages and logs.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "tollgate/output/kafka/backend.hpp"

using namespace tg::kafka;

namespace {

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/tollgate-kafka-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    ::unlink((path + "/dead.jsonl").c_str());
    ::rmdir(path.c_str());
  }
};

options opts_for(const temp_dir& d) {
  options o;
  o.url = "kafka://127.0.0.1:9,127.0.0.1:10";
  o.dead_letter_path = d.path + "/dead.jsonl";
  return o;
}

std::string start_error(const options& o) {
  try {
    backend b(o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("kafka URLs give librdkafka's bootstrap list") {
  CHECK(parse_url("kafka://k1:9092").value() == "k1:9092");
  CHECK(parse_url("kafka://k1:9092,k2:9093,k3").value() == "k1:9092,k2:9093,k3");
  CHECK(parse_url("kafka://k1:9092/").value() == "k1:9092");
  CHECK_FALSE(parse_url("http://k1:9092").has_value());
  CHECK_FALSE(parse_url("kafka://").has_value());
  CHECK_FALSE(parse_url("kafka://k1:9092,,k2:1").has_value());
  CHECK_FALSE(parse_url("kafka://user@k1:9092").has_value());
  CHECK_FALSE(parse_url("kafka://k1:port").has_value());
  CHECK_FALSE(parse_url("kafka://k1:99999").has_value());
  CHECK_FALSE(parse_url("kafka://k1:9092/topic").has_value());
}

TEST_CASE("namespaces are those OpenMeter's sink subscribes to, and the default topic follows") {
  CHECK(valid_namespace("default"));
  CHECK(valid_namespace("acme_prod_2"));
  CHECK_FALSE(valid_namespace(""));
  CHECK_FALSE(valid_namespace("a-b"));
  CHECK_FALSE(valid_namespace("_a"));
  CHECK_FALSE(valid_namespace("a__b"));
  CHECK_FALSE(valid_namespace("a_"));
  CHECK(default_topic("default") == "om_default_events");
}

TEST_CASE("secret properties are recognised") {
  CHECK(secret_property("sasl.password"));
  CHECK(secret_property("ssl.key.password"));
  CHECK(secret_property("ssl.key.pem"));
  CHECK(secret_property("sasl.oauthbearer.client.secret"));
  CHECK(secret_property("sasl.oauthbearer.config"));
  CHECK_FALSE(secret_property("compression.codec"));
  CHECK_FALSE(secret_property("linger.ms"));
}

TEST_CASE("the backend sets tollgate's safe defaults and lets --kafka-option override them") {
  temp_dir d;
  options o = opts_for(d);
  o.settings = {{"linger.ms", "20"}, {"sasl.password", "hunter2"}, {"compression.codec", "zstd"}};
  backend b(o);
  const std::string s = b.settings_for_log();
  CHECK(s.find("bootstrap.servers=127.0.0.1:9,127.0.0.1:10") != std::string::npos);
  CHECK(s.find("acks=all") != std::string::npos);
  CHECK(s.find("enable.idempotence=true") != std::string::npos);
  CHECK(s.find("linger.ms=20") != std::string::npos);
  CHECK(s.find("compression.codec=zstd") != std::string::npos);
  CHECK(s.find("sasl.password=***") != std::string::npos);
  CHECK(s.find("hunter2") == std::string::npos);
  CHECK(b.topic() == "om_default_events");
  CHECK(b.confirms_delivery());
  CHECK(b.describe().find("om_default_events") != std::string::npos);
}

TEST_CASE("an unknown --kafka-option fails with librdkafka's message naming it") {
  temp_dir d;
  options o = opts_for(d);
  o.settings = {{"no.such.property", "1"}};
  const std::string e = start_error(o);
  CHECK(e.find("--kafka-option no.such.property=1") != std::string::npos);
  CHECK(e.find("No such configuration property") != std::string::npos);
}

TEST_CASE("an invalid value for a secret property is reported without the value") {
  temp_dir d;
  options o = opts_for(d);
  o.settings = {{"sasl.oauthbearer.method", "hunter2-method"}, {"ssl.key.password", "hunter2"}};
  const std::string e = start_error(o);
  // oauthbearer.method is not secret: its bad value is named.
  CHECK(e.find("sasl.oauthbearer.method") != std::string::npos);
  options p = opts_for(d);
  p.settings = {{"ssl_key", "x"}};  // unknown, secret-looking: the value is masked
  const std::string f = start_error(p);
  CHECK(f.find("ssl_key=***") != std::string::npos);
}

TEST_CASE("a custom topic and namespace are used; a bad namespace or URL fails the start") {
  temp_dir d;
  options o = opts_for(d);
  o.ns = "acme";
  CHECK(backend(o).topic() == "om_acme_events");
  o.topic = "custom";
  CHECK(backend(o).topic() == "custom");
  options bad = opts_for(d);
  bad.ns = "a-b";
  CHECK(start_error(bad).find("--kafka-namespace") != std::string::npos);
  options url = opts_for(d);
  url.url = "kafka://";
  CHECK(start_error(url).find("--upstream") != std::string::npos);
}

TEST_CASE("producers are made per shard, and /readyz waits for a broker") {
  temp_dir d;
  options o = opts_for(d);
  backend b(o);
  b.prepare(2);
  CHECK_FALSE(b.ready());  // no statistics yet, and nothing listens on 127.0.0.1:9
  std::string m;
  b.render_metrics(m);
  CHECK(m.find("tollgate_kafka_messages_delivered_total 0") != std::string::npos);
  CHECK(m.find("tollgate_kafka_messages_in_flight{shard=\"1\"} 0") != std::string::npos);
  CHECK(b.events_done(1) == std::optional<std::uint64_t>(0));
}
