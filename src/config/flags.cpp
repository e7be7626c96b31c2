// SPDX-License-Identifier: Apache-2.0
// Flag table. Precedence: command line, then environment, then default. Sizes
// take an optional KiB/MiB/GiB suffix; durations are whole milliseconds.
#include "tollgate/config/flags.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdint>
#include <vector>

#include "tollgate_config.h"

namespace tg::config {
namespace {

struct flag {
  const char* name;      // without the leading --
  const char* env;       // environment variable
  const char* meta;      // value placeholder, "" for a switch
  std::string def;       // default, as shown in --help
  const char* help;
  std::function<void(config&, const std::string&)> set;
};

// Upper bounds for the request limits. Body offsets are 32-bit (event_ref's
// begin/end/at, a ring record's length) and a body's events grow by up to
// half when stamped, so 1 GiB leaves a margin of more than two. Head offsets
// are 32-bit too (the parser's field offsets); 16 MiB is already far past
// any real head and bounds the buffer one connection may hold. Events per
// request: the error index is an int32, and the handler reserves 16 bytes
// (64 with a spool) per allowed event up front, so 1,000,000.
constexpr std::uint64_t max_body_bytes_bound = 1ull << 30;
constexpr std::uint64_t max_head_bytes_bound = 16ull << 20;
constexpr std::uint64_t max_events_bound = 1000000;

std::uint64_t parse_number(const std::string& flag_name, const std::string& v, bool size) {
  std::uint64_t n = 0;
  const char* first = v.data();
  const char* last = v.data() + v.size();
  auto [p, ec] = std::from_chars(first, last, n);
  if (ec == std::errc::result_out_of_range) throw usage_error("--" + flag_name + ": \"" + v + "\" is too large");
  if (ec != std::errc() || p == first) throw usage_error("--" + flag_name + ": \"" + v + "\" is not a number");
  std::string suffix(p, last);
  std::uint64_t mul = 1;
  if (suffix.empty()) {
  } else if (size && (suffix == "KiB" || suffix == "k" || suffix == "K")) {
    mul = 1024;
  } else if (size && (suffix == "MiB" || suffix == "M")) {
    mul = 1024 * 1024;
  } else if (size && (suffix == "GiB" || suffix == "G")) {
    mul = 1024ull * 1024 * 1024;
  } else {
    throw usage_error("--" + flag_name + ": unknown suffix in \"" + v + "\"" + (size ? " (use KiB, MiB or GiB)" : ""));
  }
  if (n > UINT64_MAX / mul) throw usage_error("--" + flag_name + ": \"" + v + "\" is too large");
  return n * mul;
}

// A bounded number flag stored in one member of one part of the config
// (server options or upstream options).
template <class Part, class T>
std::function<void(config&, const std::string&)> number_in(Part config::*part, const char* name, T Part::*member,
                                                           bool size, std::uint64_t min, std::uint64_t max) {
  return [=](config& c, const std::string& v) {
    const std::uint64_t n = parse_number(name, v, size);
    if (n < min || n > max) {
      throw usage_error(std::string("--") + name + ": " + v + " is out of range [" + std::to_string(min) + ", " +
                        std::to_string(max) + "]");
    }
    (c.*part).*member = static_cast<T>(n);
  };
}

template <class T>
std::function<void(config&, const std::string&)> up_number(const char* name, T upstream::options::*member, bool size,
                                                           std::uint64_t min, std::uint64_t max) {
  return number_in(&config::forward, name, member, size, min, max);
}

}  // namespace

std::string read_token_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) throw usage_error("--upstream-token-file: cannot read " + path);
  std::string token;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) token.append(buf, n);
  std::fclose(f);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) throw usage_error("--upstream-token-file: " + path + " is empty");
  return token;
}

namespace {

template <class T>
std::function<void(config&, const std::string&)> number(const char* name, T server::options::*member, bool size,
                                                        std::uint64_t min, std::uint64_t max) {
  return number_in(&config::server, name, member, size, min, max);
}

std::vector<flag> table() {
  const server::options d;
  std::vector<flag> t;
  t.push_back({"listen", "TOLLGATE_LISTEN", "HOST:PORT", d.listen,
               "Address to accept clients on; every shard binds it with SO_REUSEPORT. Port 0 picks a free port "
               "(logged in the \"listening\" line).",
               [](config& c, const std::string& v) { c.server.listen = v; }});
  t.push_back({"shards", "TOLLGATE_SHARDS", "N", "CPUs in the affinity mask",
               "Reactor threads, each pinned to a CPU with its own io_uring, listener and event ring.",
               number("shards", &server::options::shards, false, 1, 1024)});
  const upstream::options u;
  t.push_back({"upstream", "OPENMETER_URL", "URL", "stdout",
               "Where accepted events go. An OpenMeter base URL, as the SDKs take it (https://openmeter.cloud, "
               "http://127.0.0.1:8888): batches are POSTed to <URL>/api/v1/events. Or kafka://HOST:PORT[,HOST:PORT...]: "
               "each event is produced to self-hosted OpenMeter's Kafka ingest topic in OpenMeter's own message "
               "format (see --kafka-namespace). Or stdout, or file:PATH (JSON Lines, one event per line).",
               [](config& c, const std::string& v) { c.upstream = v; }});
  t.push_back({"upstream-token", "OPENMETER_TOKEN", "TOKEN", "none",
               "Bearer token sent upstream as Authorization: Bearer TOKEN. Never logged.",
               [](config& c, const std::string& v) { c.upstream_token = v; }});
  t.push_back({"upstream-token-file", "TOLLGATE_UPSTREAM_TOKEN_FILE", "PATH", "none",
               "Read the bearer token from this file instead (trailing newline ignored).",
               [](config& c, const std::string& v) {
                 c.upstream_token = read_token_file(v);
                 c.upstream_token_file = v;
               }});
  t.push_back({"upstream-ca-file", "TOLLGATE_UPSTREAM_CA_FILE", "PATH", "system trust store",
               "PEM file of the CA(s) to trust for the upstream, instead of the system trust store. Certificates and "
               "host names are always verified.",
               [](config& c, const std::string& v) { c.forward.ca_file = v; }});
  t.push_back({"dead-letter", "TOLLGATE_DEAD_LETTER", "PATH", u.dead_letter_path,
               "JSON Lines file for events the upstream rejected on their own (event, status, upstream detail, "
               "time). Every dead-lettered event is also counted in tollgate_dead_lettered_events_total.",
               [](config& c, const std::string& v) { c.forward.dead_letter_path = v; }});
  t.push_back({"batch-max-events", "TOLLGATE_BATCH_MAX_EVENTS", "N", std::to_string(u.batch_max_events),
               "An upstream batch closes at this many events, at --batch-max-bytes or after --linger-ms, whichever comes first.",
               up_number("batch-max-events", &upstream::options::batch_max_events, false, 1, 100000)});
  t.push_back({"batch-max-bytes", "TOLLGATE_BATCH_MAX_BYTES", "SIZE", "1MiB", "An upstream batch closes at this many bytes (see --batch-max-events).",
               up_number("batch-max-bytes", &upstream::options::batch_max_bytes, true, 1024, 1ull << 30)});
  t.push_back({"linger-ms", "TOLLGATE_LINGER_MS", "MS", std::to_string(u.linger_ms),
               "An upstream batch closes when its oldest event has waited this long (see --batch-max-events).",
               up_number("linger-ms", &upstream::options::linger_ms, false, 0, 60000)});
  t.push_back({"max-in-flight", "TOLLGATE_MAX_IN_FLIGHT", "N", std::to_string(u.max_in_flight),
               "Upstream requests (keep-alive connections) in flight per shard.",
               up_number("max-in-flight", &upstream::options::max_in_flight, false, 1, 256)});
  t.push_back({"connect-timeout-ms", "TOLLGATE_CONNECT_TIMEOUT_MS", "MS", std::to_string(u.connect_timeout_ms),
               "Upstream TCP connect plus TLS handshake.",
               up_number("connect-timeout-ms", &upstream::options::connect_timeout_ms, false, 1, 600000)});
  t.push_back({"request-timeout-ms", "TOLLGATE_REQUEST_TIMEOUT_MS", "MS", std::to_string(u.request_timeout_ms),
               "Upstream request sent to response received; then the batch is retried.",
               up_number("request-timeout-ms", &upstream::options::request_timeout_ms, false, 1, 3600000)});
  t.push_back({"retry-initial-ms", "TOLLGATE_RETRY_INITIAL_MS", "MS", std::to_string(u.retry_initial_ms),
               "First retry delay ceiling; doubles per failure (full jitter), honouring Retry-After. Events are "
               "never given up while the buffer has room.",
               up_number("retry-initial-ms", &upstream::options::retry_initial_ms, false, 1, 3600000)});
  t.push_back({"retry-max-ms", "TOLLGATE_RETRY_MAX_MS", "MS", std::to_string(u.retry_max_ms),
               "Largest retry delay ceiling.",
               up_number("retry-max-ms", &upstream::options::retry_max_ms, false, 1, 3600000)});
  const kafka::options k;
  t.push_back({"kafka-namespace", "TOLLGATE_KAFKA_NAMESPACE", "NS", k.ns,
               "kafka:// upstream: the OpenMeter namespace (the message key's prefix, the namespace header and the "
               "default topic).",
               [](config& c, const std::string& v) { c.kafka.ns = v; }});
  t.push_back({"kafka-topic", "TOLLGATE_KAFKA_TOPIC", "NAME", "om_<NS>_events",
               "kafka:// upstream: the topic to produce to; OpenMeter's sink worker reads om_<NS>_events. tollgate "
               "never creates it.",
               [](config& c, const std::string& v) { c.kafka.topic = v; }});
  t.push_back({"kafka-option", "TOLLGATE_KAFKA_OPTIONS", "KEY=VALUE", "acks=all enable.idempotence=true compression.codec=lz4",
               "kafka:// upstream: a librdkafka property (SASL, TLS, compression, linger...); repeat the flag for "
               "more (the environment variable takes one per line). An unknown property fails the start. Values "
               "are never logged for secret properties (passwords, keys, tokens).",
               [](config& c, const std::string& v) {
                 std::size_t start = 0;
                 do {
                   const std::size_t end = std::min(v.find('\n', start), v.size());
                   const std::string item = v.substr(start, end - start);
                   start = end + 1;
                   const std::size_t eq = item.find('=');
                   if (eq == std::string::npos || eq == 0) {
                     throw usage_error("--kafka-option: \"" + item.substr(0, eq) + "\" is not KEY=VALUE");
                   }
                   c.kafka.settings.emplace_back(item.substr(0, eq), item.substr(eq + 1));
                 } while (start < v.size());
               }});
  t.push_back({"ack", "TOLLGATE_ACK", "MODE", "buffered",
               "When a request gets its 204. buffered: the events are in the shard's buffer (OpenMeter's own 204 "
               "means no more); with --spool-dir they are also written to the spool, without waiting for the "
               "write or the fdatasync: a crash may lose what was not written yet (under a millisecond, "
               "normally), a power cut the last ~50 ms. durable: "
               "the events are written to the spool and fdatasync'd (group commit; needs --spool-dir). upstream: "
               "the upstream accepted them (504 after --ack-timeout-ms).",
               [](config& c, const std::string& v) {
                 if (v == "buffered") c.server.ack = server::ack_mode::buffered;
                 else if (v == "durable") c.server.ack = server::ack_mode::durable;
                 else if (v == "upstream") c.server.ack = server::ack_mode::upstream;
                 else throw usage_error("--ack: \"" + v + "\" is not one of buffered, durable, upstream");
               }});
  t.push_back({"spool-dir", "TOLLGATE_SPOOL_DIR", "DIR", "none (memory only)",
               "Keep every accepted event on disk until the upstream has it: each shard appends to its own "
               "segment files under DIR/shard-N, replays what was not delivered when tollgate starts again "
               "(after a crash, a restart or with a different --shards), and deletes a segment once every event "
               "in it is delivered. The event buffer then only caches the spool, so a long outage is bounded by "
               "--spool-max-bytes instead of --buffer-bytes. Needs an http(s):// or kafka:// --upstream.",
               [](config& c, const std::string& v) { c.server.spool_dir = v; }});
  t.push_back({"segment-bytes", "TOLLGATE_SEGMENT_BYTES", "SIZE", "64MiB",
               "Spool segment size: a segment is closed and a new one started before it would pass this; "
               "delivered space is freed a segment at a time.",
               number("segment-bytes", &server::options::segment_bytes, true, 4096, 1ull << 40)});
  t.push_back({"spool-max-bytes", "TOLLGATE_SPOOL_MAX_BYTES", "SIZE", "80% of the free space at start",
               "Most bytes the spool may hold (all shards together, split evenly). Past it, and while disk "
               "writes fail (disk full, I/O error), new requests get 503 + Retry-After (after --admit-timeout-ms "
               "with --when-full wait, 429 at once with reject); accepted events are kept.",
               number("spool-max-bytes", &server::options::spool_max_bytes, true, 0, 1ull << 50)});
  t.push_back({"sync-max-delay-us", "TOLLGATE_SYNC_MAX_DELAY_US", "US", "0",
               "--ack durable: how long a group commit may wait for more requests before its fdatasync. 0 "
               "does not wait: a sync takes what arrived while the previous one ran.",
               number("sync-max-delay-us", &server::options::sync_max_delay_us, false, 0, 1000000)});
  t.push_back({"ack-timeout-ms", "TOLLGATE_ACK_TIMEOUT_MS", "MS", std::to_string(d.ack_timeout_ms),
               "--ack upstream: answer 504 when the upstream has not accepted the events by then (they stay "
               "buffered and are still delivered).",
               number("ack-timeout-ms", &server::options::ack_timeout_ms, false, 1, 3600000)});
  t.push_back({"when-full", "TOLLGATE_WHEN_FULL", "MODE", "wait",
               "When a shard's buffer is over its high watermark: wait (stop reading the connection; 503 + "
               "Retry-After after --admit-timeout-ms) or reject (429 + Retry-After at once).",
               [](config& c, const std::string& v) {
                 if (v == "wait") c.server.full = server::when_full::wait;
                 else if (v == "reject") c.server.full = server::when_full::reject;
                 else throw usage_error("--when-full: \"" + v + "\" is not one of wait, reject");
               }});
  t.push_back({"max-head-bytes", "TOLLGATE_MAX_HEAD_BYTES", "SIZE", "16KiB",
               "Largest request line + headers; larger gets 431 and the connection is closed. 256 to 16MiB.",
               [](config& c, const std::string& v) {
                 c.server.limits.max_head_bytes = parse_number("max-head-bytes", v, true);
                 if (c.server.limits.max_head_bytes < 256) throw usage_error("--max-head-bytes: at least 256");
                 if (c.server.limits.max_head_bytes > max_head_bytes_bound)
                   throw usage_error("--max-head-bytes: at most 16MiB, got " + v);
               }});
  t.push_back({"max-headers", "TOLLGATE_MAX_HEADERS", "N", std::to_string(d.limits.max_headers),
               "Most header fields in one request; more gets 431.",
               [](config& c, const std::string& v) {
                 c.server.limits.max_headers = parse_number("max-headers", v, false);
                 if (c.server.limits.max_headers < 1) throw usage_error("--max-headers: at least 1");
               }});
  t.push_back({"max-body-bytes", "TOLLGATE_MAX_BODY_BYTES", "SIZE", "4MiB",
               "Largest request body; a Content-Length over it gets 413 before the body is read. 1KiB to 1GiB.",
               [](config& c, const std::string& v) {
                 c.server.limits.max_body_bytes = parse_number("max-body-bytes", v, true);
                 if (c.server.limits.max_body_bytes < 1024) throw usage_error("--max-body-bytes: at least 1KiB");
                 if (c.server.limits.max_body_bytes > max_body_bytes_bound)
                   throw usage_error("--max-body-bytes: at most 1GiB, got " + v);
               }});
  t.push_back({"max-events-per-request", "TOLLGATE_MAX_EVENTS_PER_REQUEST", "N",
               std::to_string(d.validation.max_events), "Most events in one request; more gets 413. 1 to 1000000.",
               [](config& c, const std::string& v) {
                 c.server.validation.max_events = parse_number("max-events-per-request", v, false);
                 if (c.server.validation.max_events < 1) throw usage_error("--max-events-per-request: at least 1");
                 if (c.server.validation.max_events > max_events_bound)
                   throw usage_error("--max-events-per-request: at most 1000000, got " + v);
               }});
  t.push_back({"max-connections", "TOLLGATE_MAX_CONNECTIONS", "N", std::to_string(d.max_connections),
               "Open client connections per shard; more are closed as soon as they are accepted.",
               number("max-connections", &server::options::max_connections, false, 1, 1u << 24)});
  t.push_back({"max-output-bytes-total", "TOLLGATE_MAX_OUTPUT_BYTES_TOTAL", "SIZE", "64MiB",
               "Unsent responses, and pipelined requests held behind them, over all of a shard's connections "
               "(clients pipelining without reading). Past it, connections with unsent responses are not read "
               "until those drain, and one that keeps sending is closed after the answers it is owed. Each "
               "connection holds at most 64KiB of responses and 256KiB of requests.",
               number("max-output-bytes-total", &server::options::max_output_bytes_total, true, 64 * 1024,
                      1ull << 40)});
  t.push_back({"header-timeout-ms", "TOLLGATE_HEADER_TIMEOUT_MS", "MS", std::to_string(d.header_timeout_ms),
               "Time from a request's first byte to the end of its headers; then 408 and close.",
               number("header-timeout-ms", &server::options::header_timeout_ms, false, 1, 3600000)});
  t.push_back({"body-timeout-ms", "TOLLGATE_BODY_TIMEOUT_MS", "MS", std::to_string(d.body_timeout_ms),
               "Time from the end of the headers to the end of the body; then 408 and close.",
               number("body-timeout-ms", &server::options::body_timeout_ms, false, 1, 3600000)});
  t.push_back({"idle-timeout-ms", "TOLLGATE_IDLE_TIMEOUT_MS", "MS", std::to_string(d.idle_timeout_ms),
               "Keep-alive connections with no request in progress are closed after this.",
               number("idle-timeout-ms", &server::options::idle_timeout_ms, false, 1, 86400000)});
  t.push_back({"buffer-bytes", "TOLLGATE_BUFFER_BYTES", "SIZE", "32MiB",
               "Event buffer (ring) per shard: how much can wait for a slow or failing upstream. Above 90% full "
               "the shard stops reading new requests (TCP pushes back, /readyz fails); see --when-full. Must be "
               "at least twice --max-body-bytes.",
               number("buffer-bytes", &server::options::buffer_bytes, true, 64 * 1024, 1ull << 40)});
  t.push_back({"admit-timeout-ms", "TOLLGATE_ADMIT_TIMEOUT_MS", "MS", std::to_string(d.admit_timeout_ms),
               "How long a request waits for room in a full event ring before 503.",
               number("admit-timeout-ms", &server::options::admit_timeout_ms, false, 0, 600000)});
  t.push_back({"drain-timeout-ms", "TOLLGATE_DRAIN_TIMEOUT_MS", "MS", std::to_string(d.drain_timeout_ms),
               "On SIGTERM/SIGINT: time to finish requests in progress and write out buffered events. Events "
               "still unwritten then are counted in the last log line and the exit status is 1.",
               number("drain-timeout-ms", &server::options::drain_timeout_ms, false, 0, 3600000)});
  t.push_back({"recv-buffers", "TOLLGATE_RECV_BUFFERS", "N", std::to_string(d.recv_buffers),
               "Receive buffers per shard in the io_uring provided-buffer ring (a power of two).",
               [](config& c, const std::string& v) {
                 const auto n = parse_number("recv-buffers", v, false);
                 if (n == 0 || n > 32768 || (n & (n - 1)) != 0) throw usage_error("--recv-buffers: a power of two up to 32768");
                 c.server.recv_buffers = static_cast<unsigned>(n);
               }});
  t.push_back({"recv-buffer-bytes", "TOLLGATE_RECV_BUFFER_BYTES", "SIZE", "16KiB", "Size of each receive buffer.",
               number("recv-buffer-bytes", &server::options::recv_buffer_bytes, true, 1024, 1u << 20)});
  t.push_back({"proxy", "TOLLGATE_PROXY", "MODE", "on",
               "on: every other request under /api/ (meters, customers, entitlements, portal tokens, GET "
               "/api/v1/events, ...) is passed to the --upstream's API, with the client's method, headers (its own "
               "Authorization) and body, and the answer streamed back, so an OpenMeter SDK works through one base "
               "URL. With a stdout or file: upstream those paths get 404 saying there is no upstream API. off: "
               "they get 404 (405 for GET /api/v1/events).",
               [](config& c, const std::string& v) {
                 if (v == "on") c.server.proxy = server::proxy_mode::on;
                 else if (v == "off") c.server.proxy = server::proxy_mode::off;
                 else throw usage_error("--proxy: \"" + v + "\" is not one of on, off");
               }});
  t.push_back({"proxy-timeout-ms", "TOLLGATE_PROXY_TIMEOUT_MS", "MS", std::to_string(d.proxy_timeout_ms),
               "Pass-through: the longest wait for an upstream connection, the answer's head, or any progress in "
               "its body; then 504 (or, once the answer has begun, the client's connection is closed).",
               number("proxy-timeout-ms", &server::options::proxy_timeout_ms, false, 1, 3600000)});
  t.push_back({"proxy-max-body-bytes", "TOLLGATE_PROXY_MAX_BODY_BYTES", "SIZE", "1MiB",
               "Pass-through: largest request body passed on (413 above it); at most --max-body-bytes.",
               [](config& c, const std::string& v) {
                 c.server.proxy_max_body_bytes = parse_number("proxy-max-body-bytes", v, true);
                 c.proxy_body_set = true;
               }});
  t.push_back({"proxy-connections", "TOLLGATE_PROXY_CONNECTIONS", "N", std::to_string(d.proxy_connections),
               "Pass-through: keep-alive connections to the upstream per shard; more requests wait for one "
               "(within --proxy-timeout-ms).",
               number("proxy-connections", &server::options::proxy_connections, false, 1, 1024)});
  t.push_back({"mappings", "TOLLGATE_MAPPINGS", "FILE", "none",
               "Routes that turn any JSON payload into CloudEvents (docs/mapping.md): each route is a path served "
               "with POST and application/json and a template of JSON pointers. A bad file fails the start "
               "naming the route and the field; re-read on SIGHUP (a bad file then keeps the routes in use).",
               [](config& c, const std::string& v) { c.server.mappings_file = v; }});
  t.push_back({"ingest-tokens-file", "TOLLGATE_INGEST_TOKENS_FILE", "PATH", "none (the ingest path is open)",
               "Require a bearer token on every /api/ request: one client per line, NAME TOKEN or NAME "
               "sha256:HEX (the hex SHA-256 of the token, so the file need not hold secrets); # comments and "
               "blank lines are ignored. A request without a matching Authorization: Bearer token gets 401. "
               "/healthz, /readyz and /metrics stay open. NAME labels the per-client metrics. Re-read on "
               "SIGHUP.",
               [](config& c, const std::string& v) { c.server.ingest_tokens_file = v; }});
  t.push_back({"tls-cert", "TOLLGATE_TLS_CERT", "PEM", "none (plaintext)",
               "Serve HTTPS: the certificate chain (leaf first) for the listener; TLS 1.2 and 1.3, ALPN http/1.1. "
               "Needs --tls-key. Re-read on SIGHUP (new connections use the new one).",
               [](config& c, const std::string& v) { c.server.tls_cert = v; }});
  t.push_back({"tls-key", "TOLLGATE_TLS_KEY", "PEM", "none", "The private key of --tls-cert. Re-read on SIGHUP.",
               [](config& c, const std::string& v) { c.server.tls_key = v; }});
  t.push_back({"tls-client-ca", "TOLLGATE_TLS_CLIENT_CA", "PEM", "none",
               "Mutual TLS: require a client certificate signed by a CA in this file. The certificate's subject "
               "CN names the client in the per-client metrics when no token does.",
               [](config& c, const std::string& v) { c.server.tls_client_ca = v; }});
  t.push_back({"tls-handshake-timeout-ms", "TOLLGATE_TLS_HANDSHAKE_TIMEOUT_MS", "MS",
               std::to_string(d.tls_handshake_timeout_ms),
               "A connection whose TLS handshake is not done this long after accept is closed.",
               number("tls-handshake-timeout-ms", &server::options::tls_handshake_timeout_ms, false, 1, 600000)});
  t.push_back({"cors-allow-origin", "TOLLGATE_CORS_ALLOW_ORIGIN", "ORIGIN", "none",
               "Answer CORS preflights on the ingest paths and add CORS headers for this Origin (e.g. "
               "https://app.example.com); repeat the flag for several, or * for any. The environment "
               "variable takes a comma-separated list.",
               [](config& c, const std::string& v) {
                 std::size_t from = 0;
                 while (from <= v.size()) {
                   std::size_t comma = v.find(',', from);
                   if (comma == std::string::npos) comma = v.size();
                   std::string_view piece(v.data() + from, comma - from);
                   while (!piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
                   while (!piece.empty() && piece.back() == ' ') piece.remove_suffix(1);
                   const std::string o(piece);
                   const std::size_t scheme = o.find("://");
                   const bool origin = scheme != std::string::npos && scheme > 0 && o.size() > scheme + 3 &&
                                       o.find('/', scheme + 3) == std::string::npos;
                   if (o != "*" && !origin) {
                     throw usage_error("--cors-allow-origin: \"" + o +
                                       "\" is not an origin (scheme://host[:port], no path) or *");
                   }
                   c.server.cors_origins.push_back(o);
                   from = comma + 1;
                 }
               }});
  t.push_back({"log-level", "TOLLGATE_LOG_LEVEL", "LEVEL", "info",
               "debug, info, warn, error or off. Logs are JSON lines on stderr.",
               [](config& c, const std::string& v) {
                 if (!log::parse_level(v, c.log_level)) throw usage_error("--log-level: \"" + v + "\" is not one of debug, info, warn, error, off");
               }});
  return t;
}

}  // namespace

config parse(int argc, const char* const* argv, const std::function<const char*(const char*)>& getenv) {
  config c;
  const std::vector<flag> flags = table();
  std::vector<bool> seen(flags.size(), false);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      c.help = true;
      continue;
    }
    if (arg == "--version") {
      c.version = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) throw usage_error("unexpected argument \"" + arg + "\" (see --help)");
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    std::size_t k = 0;
    while (k < flags.size() && name != flags[k].name) ++k;
    if (k == flags.size()) throw usage_error("unknown flag --" + name + " (see --help)");
    if (!has_value) {
      if (i + 1 >= argc) throw usage_error("--" + name + " needs a value");
      value = argv[++i];
    }
    flags[k].set(c, value);
    seen[k] = true;
  }
  for (std::size_t k = 0; k < flags.size(); ++k) {
    if (seen[k]) continue;
    if (const char* v = getenv(flags[k].env); v != nullptr && *v != '\0') flags[k].set(c, v);
  }
  if (c.upstream.empty()) {
    c.upstream = "stdout";
    c.upstream_defaulted = true;
  }
  c.output.target = c.upstream;
  c.forward.url = c.upstream;
  c.forward.token = c.upstream_token;
  c.kafka.url = c.upstream;
  c.kafka.dead_letter_path = c.forward.dead_letter_path;
  c.kafka.retry_initial_ms = c.forward.retry_initial_ms;
  c.kafka.retry_max_ms = c.forward.retry_max_ms;
  const bool http_upstream = c.upstream.rfind("http://", 0) == 0 || c.upstream.rfind("https://", 0) == 0;
  // Both confirm delivery: a released event is one the upstream has.
  const bool delivering = http_upstream || c.upstream.rfind("kafka://", 0) == 0;
  if (c.server.ack == server::ack_mode::upstream && !delivering) {
    throw usage_error("--ack upstream needs an http(s):// or kafka:// --upstream");
  }
  if (!c.server.spool_dir.empty() && !delivering) {
    throw usage_error("--spool-dir needs an http(s):// or kafka:// --upstream (the spool holds events until the "
                      "upstream has them)");
  }
  if (c.server.ack == server::ack_mode::durable && c.server.spool_dir.empty()) {
    throw usage_error("--ack durable needs --spool-dir");
  }
  if (c.server.proxy_max_body_bytes > c.server.limits.max_body_bytes) {
    // Every body is read whole under --max-body-bytes first.
    if (c.proxy_body_set) throw usage_error("--proxy-max-body-bytes must not be larger than --max-body-bytes");
    c.server.proxy_max_body_bytes = c.server.limits.max_body_bytes;
  }
  if (c.server.buffer_bytes < 2 * c.server.limits.max_body_bytes) {
    throw usage_error("--buffer-bytes must be at least twice --max-body-bytes, so that any accepted request fits");
  }
  return c;
}

std::string help_text() {
  std::string out =
      "tollgate " TOLLGATE_VERSION " - an OpenMeter-compatible ingest gateway for CloudEvents.\n"
      "\n"
      "Accepts POST /api/v1/events (204) and /api/v3/openmeter/events (202) exactly as OpenMeter does,\n"
      "validates every event, and forwards accepted events to OpenMeter in batches (--upstream URL),\n"
      "retrying until they are delivered, or writes them to stdout / a file as JSON Lines. Also serves\n"
      "GET /healthz, /readyz and /metrics (Prometheus) on the same port, and passes every other request\n"
      "under /api/ to the upstream's API (--proxy). SIGTERM/SIGINT stop accepting,\n"
      "finish requests in progress, deliver or write what is buffered (--drain-timeout-ms) and exit;\n"
      "with --spool-dir, what is not delivered by then stays on disk and is sent after the next start.\n"
      "SIGHUP re-reads --ingest-tokens-file, --tls-cert/--tls-key and --upstream-token-file; a file that\n"
      "does not parse keeps the one in use (and the log says why).\n"
      "\n"
      "Usage: tollgate [--flag VALUE | --flag=VALUE]...\n"
      "Each flag can also be set through the environment variable shown; the command line wins.\n"
      "\n";
  for (const flag& f : table()) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on the
    // chain of temporaries `a + b + ...` builds here.
    out.append("  --").append(f.name);
    if (*f.meta) out.append(" ").append(f.meta);
    out.append("\n      ").append(f.help).append("\n      [env ").append(f.env).append("; default: ");
    out.append(f.def).append("]\n");
  }
  out +=
      "  --help\n      Show this text.\n"
      "  --version\n      Print the version and exit.\n"
      "\n"
      "Exit status: 0 after a clean stop; 1 if accepted events were left unwritten at the drain\n"
      "deadline; 2 for a usage or start-up error; 3 when io_uring is unavailable on this host.\n";
  return out;
}

}  // namespace tg::config
