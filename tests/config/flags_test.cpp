// SPDX-License-Identifier: Apache-2.0
// Flags: command line beats environment beats default; every flag is in --help
// with its environment variable; bad values are refused with the flag's name.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "tollgate/config/flags.hpp"

using namespace tg;

namespace {
config::config parse(std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "tollgate");
  return config::parse(static_cast<int>(args.size()), args.data(), [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}
}  // namespace

TEST_CASE("flags default to stdout output and the seed example's port") {
  const auto c = parse({});
  CHECK(c.server.listen == "127.0.0.1:4196");
  CHECK(c.output.target == "stdout");
  CHECK(c.upstream_defaulted);
  CHECK(c.server.limits.max_body_bytes == 4u << 20);
  CHECK(c.server.limits.max_head_bytes == 16u << 10);
}

TEST_CASE("flags take values in both --flag VALUE and --flag=VALUE forms with size suffixes") {
  const auto c = parse({"--max-body-bytes", "1MiB", "--buffer-bytes=8MiB", "--shards=3", "--upstream", "file:/tmp/x"});
  CHECK(c.server.limits.max_body_bytes == 1u << 20);
  CHECK(c.server.buffer_bytes == 8u << 20);
  CHECK(c.server.shards == 3);
  CHECK(c.output.target == "file:/tmp/x");
  CHECK_FALSE(c.upstream_defaulted);
}

TEST_CASE("flags read the environment, and the command line wins over it") {
  const auto c = parse({"--listen", "127.0.0.1:9"}, {{"TOLLGATE_LISTEN", "0.0.0.0:1"}, {"OPENMETER_URL", "file:/tmp/y"},
                                                     {"OPENMETER_TOKEN", "secret"}, {"TOLLGATE_IDLE_TIMEOUT_MS", "1234"}});
  CHECK(c.server.listen == "127.0.0.1:9");
  CHECK(c.upstream == "file:/tmp/y");
  CHECK(c.upstream_token == "secret");
  CHECK(c.server.idle_timeout_ms == 1234);
}

TEST_CASE("flags refuse unknown flags, bad numbers and out-of-range values by name") {
  CHECK_THROWS_WITH_AS(parse({"--nope", "1"}), doctest::Contains("--nope"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--shards", "many"}), doctest::Contains("--shards"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--shards", "0"}), doctest::Contains("out of range"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--recv-buffers", "1000"}), doctest::Contains("power of two"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--log-level", "loud"}), doctest::Contains("--log-level"), config::usage_error);
  CHECK_THROWS_AS(parse({"--listen"}), config::usage_error);
}

TEST_CASE("flags refuse a buffer that could not hold the largest request") {
  CHECK_THROWS_WITH_AS(parse({"--buffer-bytes", "4MiB", "--max-body-bytes", "4MiB"}),
                       doctest::Contains("--buffer-bytes"), config::usage_error);
}

TEST_CASE("help names every flag with its environment variable") {
  const std::string h = config::help_text();
  for (const char* f : {"--listen", "--shards", "--upstream", "--upstream-token", "--max-head-bytes", "--max-headers",
                        "--max-body-bytes", "--max-events-per-request", "--max-connections", "--header-timeout-ms",
                        "--body-timeout-ms", "--idle-timeout-ms", "--buffer-bytes", "--admit-timeout-ms",
                        "--drain-timeout-ms", "--recv-buffers", "--recv-buffer-bytes", "--log-level"}) {
    CHECK_MESSAGE(h.find(f) != std::string::npos, f);
  }
  for (const char* e : {"OPENMETER_URL", "OPENMETER_TOKEN", "TOLLGATE_LISTEN", "TOLLGATE_SHARDS", "TOLLGATE_LOG_LEVEL"}) {
    CHECK_MESSAGE(h.find(e) != std::string::npos, e);
  }
}

TEST_CASE("a size whose multiplication overflows is refused, not wrapped (issue 16)") {
  // 2^54 GiB is 2^84 bytes: it would wrap to 0 in 64 bits.
  CHECK_THROWS_WITH_AS(parse({"--buffer-bytes", "18014398509481984GiB"}), doctest::Contains("too large"),
                       config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--max-body-bytes", "17179869184GiB"}), doctest::Contains("--max-body-bytes"),
                       config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--max-body-bytes", "99999999999999999999999"}), doctest::Contains("too large"),
                       config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--shards", "99999999999999999999999"}), doctest::Contains("--shards"),
                       config::usage_error);
}

TEST_CASE("request limits have upper bounds that fit 32-bit offsets, named with the flag (issue 16)") {
  const auto at = parse({"--max-body-bytes", "1GiB", "--buffer-bytes", "2GiB", "--max-head-bytes", "16MiB",
                         "--max-events-per-request", "1000000"});
  CHECK(at.server.limits.max_body_bytes == 1u << 30);
  CHECK(at.server.limits.max_head_bytes == 16u << 20);
  CHECK(at.server.validation.max_events == 1000000);
  CHECK_THROWS_WITH_AS(parse({"--max-body-bytes", "1025MiB", "--buffer-bytes", "4GiB"}),
                       doctest::Contains("--max-body-bytes: at most 1GiB"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--max-body-bytes", "4GiB", "--buffer-bytes", "16GiB"}),
                       doctest::Contains("--max-body-bytes: at most 1GiB"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--max-head-bytes", "16385KiB"}), doctest::Contains("--max-head-bytes: at most 16MiB"),
                       config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--max-events-per-request", "1000001"}),
                       doctest::Contains("--max-events-per-request: at most 1000000"), config::usage_error);
  CHECK_THROWS_WITH_AS(parse({"--max-events-per-request", "4294967297"}),
                       doctest::Contains("--max-events-per-request: at most"), config::usage_error);
}

TEST_CASE("kafka flags fill the Kafka output's options, --kafka-option repeats and the environment takes one per line") {
  const auto c = parse({"--upstream", "kafka://k1:9092", "--kafka-namespace", "acme", "--kafka-option", "linger.ms=20",
                        "--kafka-option=sasl.password=a=b", "--dead-letter", "/tmp/dl.jsonl"});
  CHECK(c.kafka.url == "kafka://k1:9092");
  CHECK(c.kafka.ns == "acme");
  CHECK(c.kafka.topic.empty());
  REQUIRE(c.kafka.settings.size() == 2);
  CHECK(c.kafka.settings[0] == std::pair<std::string, std::string>("linger.ms", "20"));
  CHECK(c.kafka.settings[1] == std::pair<std::string, std::string>("sasl.password", "a=b"));
  CHECK(c.kafka.dead_letter_path == "/tmp/dl.jsonl");
  const auto e = parse({"--upstream", "kafka://k1:9092"},
                       {{"TOLLGATE_KAFKA_OPTIONS", "acks=1\ncompression.codec=zstd"}, {"TOLLGATE_KAFKA_TOPIC", "t"}});
  REQUIRE(e.kafka.settings.size() == 2);
  CHECK(e.kafka.settings[1].second == "zstd");
  CHECK(e.kafka.topic == "t");
  CHECK_THROWS_AS(parse({"--kafka-option", "novalue"}), config::usage_error);
  CHECK_THROWS_AS(parse({"--kafka-option", "=x"}), config::usage_error);
}

TEST_CASE("--spool-dir and --ack upstream take a kafka upstream, which confirms delivery") {
  const auto c = parse({"--upstream", "kafka://k1:9092", "--spool-dir", "/tmp/s", "--ack", "upstream"});
  CHECK(c.server.spool_dir == "/tmp/s");
  CHECK(c.server.ack == server::ack_mode::upstream);
  CHECK_THROWS_AS(parse({"--upstream", "stdout", "--ack", "upstream"}), config::usage_error);
}

TEST_CASE("pass-through flags: --proxy on|off, its timeout, connections and body bound under --max-body-bytes") {
  const auto d = parse({});
  CHECK(d.server.proxy == server::proxy_mode::on);
  CHECK(d.server.proxy_max_body_bytes == 1u << 20);
  const auto c = parse({"--proxy", "off", "--proxy-timeout-ms", "250", "--proxy-connections", "4",
                        "--proxy-max-body-bytes", "64KiB"});
  CHECK(c.server.proxy == server::proxy_mode::off);
  CHECK(c.server.proxy_timeout_ms == 250);
  CHECK(c.server.proxy_connections == 4);
  CHECK(c.server.proxy_max_body_bytes == 64u << 10);
  CHECK(parse({}, {{"TOLLGATE_PROXY", "off"}}).server.proxy == server::proxy_mode::off);
  CHECK_THROWS_WITH_AS(parse({"--proxy", "maybe"}), doctest::Contains("--proxy"), config::usage_error);
  // The default follows a smaller --max-body-bytes down; an explicit larger one is refused.
  CHECK(parse({"--max-body-bytes", "64KiB"}).server.proxy_max_body_bytes == 64u << 10);
  CHECK_THROWS_WITH_AS(parse({"--max-body-bytes", "64KiB", "--proxy-max-body-bytes", "1MiB"}),
                       doctest::Contains("--proxy-max-body-bytes"), config::usage_error);
  const std::string h = config::help_text();
  for (const char* f : {"--proxy ", "--proxy-timeout-ms", "--proxy-max-body-bytes", "--proxy-connections",
                        "TOLLGATE_PROXY_TIMEOUT_MS"}) {
    CHECK_MESSAGE(h.find(f) != std::string::npos, f);
  }
}

TEST_CASE("flags for the front door: tokens, TLS, handshake timeout and repeatable CORS origins") {
  const auto c = parse({"--ingest-tokens-file", "/etc/t", "--tls-cert", "c.pem", "--tls-key", "k.pem",
                        "--tls-client-ca", "ca.pem", "--tls-handshake-timeout-ms", "500", "--cors-allow-origin",
                        "https://a.example", "--cors-allow-origin=https://b.example:8443"});
  CHECK(c.server.ingest_tokens_file == "/etc/t");
  CHECK(c.server.tls_cert == "c.pem");
  CHECK(c.server.tls_key == "k.pem");
  CHECK(c.server.tls_client_ca == "ca.pem");
  CHECK(c.server.tls_handshake_timeout_ms == 500);
  CHECK(c.server.cors_origins == std::vector<std::string>{"https://a.example", "https://b.example:8443"});
  const auto e = parse({}, {{"TOLLGATE_CORS_ALLOW_ORIGIN", "https://a.example, *"}});
  CHECK(e.server.cors_origins == std::vector<std::string>{"https://a.example", "*"});
  CHECK_THROWS_AS(parse({"--cors-allow-origin", "https://a.example/path/"}), config::usage_error);
  CHECK_THROWS_AS(parse({"--cors-allow-origin", "a.example"}), config::usage_error);
  CHECK_THROWS_AS(parse({"--cors-allow-origin", "https://a.example/x"}), config::usage_error);
  CHECK_THROWS_AS(parse({"--tls-handshake-timeout-ms", "0"}), config::usage_error);
}
