// SPDX-License-Identifier: Apache-2.0
// The shard's ring consumer when the upstream is OpenMeter over HTTP(S): it
// cuts the event ring into batches (count, bytes or linger, whichever first),
// posts them as application/cloudevents-batch+json over a small pool of
// keep-alive links on the shard's own io_uring, and frees ring space only for
// events the upstream accepted or that were dead-lettered. Failures retry with
// exponential backoff and full jitter; a 400 splits the batch in halves until
// the poison event stands alone and goes to the dead-letter file.
// Lives on its shard's thread; touched by nothing else.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/metrics/counters.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/reactor/user_data.hpp"
#include "tollgate/ring/event_ring.hpp"
#include "tollgate/upstream/dead_letter.hpp"
#include "tollgate/upstream/tls_session.hpp"
#include "tollgate/upstream/url.hpp"

namespace tg::upstream {

struct options {
  std::string url;                         // base URL, as the SDKs take it
  std::string token;                       // bearer token; empty: no Authorization header
  std::string ca_file;                     // extra trust anchor (PEM); empty: system store only
  std::string dead_letter_path = "tollgate-dead-letter.jsonl";
  std::size_t batch_max_events = 500;
  std::size_t batch_max_bytes = 1 << 20;
  unsigned linger_ms = 5;
  unsigned max_in_flight = 8;              // links (and so requests) per shard
  unsigned connect_timeout_ms = 5000;      // TCP connect + TLS handshake
  unsigned request_timeout_ms = 30000;     // request sent to response complete
  unsigned retry_initial_ms = 100;
  unsigned retry_max_ms = 30000;
};

// What every shard's forwarder shares, built once at start-up (may block and
// throw there): the parsed URL, resolved addresses, the TLS context, the
// dead-letter file. Read-only after construction, except the dead-letter fd,
// which shards append whole lines to (O_APPEND keeps lines whole).
struct shared {
  explicit shared(const options& opts);
  ~shared();
  shared(const shared&) = delete;
  shared& operator=(const shared&) = delete;

  options opts;
  base_url url;
  std::string path;  // <prefix>/api/v1/events
  std::shared_ptr<tls_context> tls;
  std::vector<std::pair<sockaddr_storage, socklen_t>> addrs;
  std::unique_ptr<dead_letter_file> dead_letters;
  int dead_letter_fd = -1;
};

class forwarder {
 public:
  forwarder(unsigned shard, const shared& sh, reactor::uring& ring, ring::event_ring& events,
            metrics::upstream_metrics& counters);
  ~forwarder();
  forwarder(const forwarder&) = delete;
  forwarder& operator=(const forwarder&) = delete;

  // A completion tagged up_connect / up_send / up_recv.
  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe);
  // Once per loop iteration: cut batches, send them, free delivered space.
  void poll(std::uint64_t now_ms);
  // Every tick: deadlines of the links.
  void tick(std::uint64_t now_ms);
  // Milliseconds until poll() has something to do without a completion
  // (linger or backoff running out); -1 when nothing is pending.
  int wakeup_in_ms(std::uint64_t now_ms) const;
  // Nothing waiting in the ring and nothing in flight.
  bool idle() const;
  // Ring records freed so far (delivered or dead-lettered), counted from the
  // start: a spool maps them back to its sequence numbers.
  std::uint64_t records_released() const;
  // Events not yet delivered or dead-lettered (walks the ring; shutdown only).
  std::uint64_t events_left() const;
  // Shutdown: closes every link.
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::upstream
