// SPDX-License-Identifier: Apache-2.0
// Every bound and timing of the front door, with its default. The command line
// (config area) fills one of these; tests use options{} and change what they need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/http/request_parser.hpp"

namespace tg::server {

enum class ack_mode : std::uint8_t {
  buffered,  // 204 once the events are in the shard's ring (what OpenMeter's own 204 means)
  durable,   // 204 once the events are in the shard's spool and fdatasync'd (needs a spool)
  upstream,  // 204 once the upstream accepted every event of the request
};

enum class when_full : std::uint8_t {
  wait,    // stop reading the connection; 503 + Retry-After after --admit-timeout-ms
  reject,  // 429 + Retry-After at once
};

enum class proxy_mode : std::uint8_t {
  on,   // other requests under /api/ go to the upstream's API (with an http(s):// upstream)
  off,  // they get 404, as before the pass-through existed
};

struct options {
  std::string listen = "127.0.0.1:4196";  // HOST:PORT; port 0 picks a free one (shared by all shards)
  unsigned shards = 0;                     // 0: one per CPU in the affinity mask

  http::parser_limits limits;              // head bytes (431), header count (431), body bytes (413)
  cloudevents::options validation;         // events per request (413)

  std::size_t max_connections = 16384;     // per shard; more are closed at accept
  unsigned header_timeout_ms = 10000;      // first byte of a request to end of its head; then 408 + close
  unsigned body_timeout_ms = 30000;        // end of head to end of body; then 408 + close
  unsigned idle_timeout_ms = 60000;        // keep-alive connection with no request in progress; then close
  unsigned admit_timeout_ms = 1000;        // a request waiting for ring space; then 503 + Retry-After
  unsigned drain_timeout_ms = 10000;       // on SIGTERM: time to finish requests and flush the output
  unsigned linger_ms = 2000;               // after a final response: read and discard before closing
  // Unsent responses on one connection (pending and in flight) past which no
  // further pipelined request is parsed and the connection is not read: a
  // client that pipelines without reading is pushed back by TCP.
  std::size_t max_output_bytes = 64 * 1024;
  // Unsent responses and held input (below) over all of a shard's
  // connections: past it, every connection with unsent responses stops
  // being read (those with none still are), and one that is sent input
  // while not read is answered what it is owed and closed.
  std::size_t max_output_bytes_total = 64u << 20;
  // Input received while a connection is not read (pipelined requests behind
  // a paused one) that is held for later; a client that sends more than this
  // ahead is answered what it is owed and closed.
  std::size_t max_stash_bytes = 256 * 1024;
  // Closed connections whose buffers are kept for the next ones; the buffers
  // of any beyond these are freed.
  std::size_t warm_connections = 256;

  std::size_t buffer_bytes = 32u << 20;    // event ring per shard
  double high_watermark = 0.9;             // ring fill above which new requests wait (and /readyz fails)
  ack_mode ack = ack_mode::buffered;
  when_full full = when_full::wait;
  unsigned ack_timeout_ms = 30000;         // --ack upstream: 504 when the upstream has not accepted by then
  unsigned recv_buffers = 1024;            // provided receive buffers per shard (power of two)
  unsigned recv_buffer_bytes = 16384;      // size of each
  unsigned uring_entries = 4096;           // submission queue entries per shard
  unsigned tick_ms = 50;                   // timer granularity for timeouts and retries

  // The spool (issue 4). Empty spool_dir: no spool, the ring is all there is.
  std::string spool_dir;
  std::uint64_t segment_bytes = 64u << 20;  // a segment rolls over before passing this
  std::uint64_t spool_max_bytes = 0;        // all shards together; 0: 80% of the free space at start
  unsigned sync_max_delay_us = 0;           // how long a group commit may wait to grow; 0: never waits

  // The pass-through (issue 11): requests under /api/ that are not ingest.
  proxy_mode proxy = proxy_mode::on;
  unsigned proxy_timeout_ms = 30000;           // connect, answer, and every pause in the body; then 504 (or close)
  std::size_t proxy_max_body_bytes = 1 << 20;  // larger request bodies get 413 (never over limits.max_body_bytes)
  unsigned proxy_connections = 16;             // keep-alive upstream connections per shard; more requests queue

  // A front door on a shared network (issue 10). Files are re-read on SIGHUP.
  std::string ingest_tokens_file;           // empty: /api/ is open to anyone who can connect
  std::string mappings_file;                // --mappings: routes that map any JSON payload to CloudEvents
  std::string tls_cert;                     // PEM chain, leaf first; empty: plaintext listener
  std::string tls_key;                      // PEM private key
  std::string tls_client_ca;                // PEM CA(s): a client certificate signed by one is required
  unsigned tls_handshake_timeout_ms = 10000;  // accept to handshake done; then the connection is closed
  std::vector<std::string> cors_origins;    // allowed Origin values, or "*"; empty: no CORS headers
};

}  // namespace tg::server
