// SPDX-License-Identifier: Apache-2.0
// The HTTP output (OpenMeter's ingest API over HTTP(S)). Per shard, the
// forwarder cuts the event ring into batches (count, bytes or linger,
// whichever first), posts them as application/cloudevents-batch+json over a
// small pool of keep-alive links on the shard's own io_uring, and frees ring
// space only for events the upstream accepted or that were dead-lettered.
// Failures retry with exponential backoff and full jitter; a 400 splits the
// batch in halves until the poison event stands alone and goes to the
// dead-letter file. The forwarder lives on its shard's thread; `shared` and
// the backend are built once at start-up.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tollgate/base/published.hpp"
#include "tollgate/output/http/dead_letter.hpp"
#include "tollgate/output/http/probe.hpp"
#include "tollgate/output/http/tls_session.hpp"
#include "tollgate/output/http/url.hpp"
#include "tollgate/output/output.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/ring/event_ring.hpp"

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
  // The bearer token in use (opts.token at start): replaced on SIGHUP from
  // the main thread (backend::set_token), picked up by each forwarder on its
  // next batch.
  published<std::string> token;
};

class forwarder final : public output::shard_output {
 public:
  forwarder(unsigned shard, const shared& sh, reactor::uring& ring, ring::event_ring& events, probe& counters);
  ~forwarder() override;
  forwarder(const forwarder&) = delete;
  forwarder& operator=(const forwarder&) = delete;

  // A completion of one of the links: changes that link's state only.
  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) override;
  // Once per loop iteration: take the links' news (responses, failures),
  // cut batches, send them, free delivered space.
  void poll(std::uint64_t now_ms) override;
  // Every tick: deadlines of the links, the resolver.
  void tick(std::uint64_t now_ms) override;
  long wakeup_in_us(std::uint64_t now_ms) const override;

  std::uint64_t records_released() const override;
  std::optional<output::rejection> rejected(std::uint64_t begin, std::uint64_t end) const override;
  void rejected_ordinals(std::uint64_t from, std::uint64_t to, const refused_run& f) const override;
  bool idle() const override;
  std::uint64_t events_left() const override;
  void close() override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// The HTTP output's process side: `shared`, one probe per shard, forwarders.
class backend final : public output::backend {
 public:
  // Parses the URL, resolves it, loads the trust store and opens the
  // dead-letter file; throws std::runtime_error on a bad set-up.
  explicit backend(const options& opts);
  ~backend() override;

  std::string describe() const override;
  void prepare(unsigned shards) override;
  std::unique_ptr<output::shard_output> make_shard(unsigned shard, reactor::uring& ring,
                                                   ring::event_ring& events) override;
  bool confirms_delivery() const override { return true; }
  void render_metrics(std::string& out) const override;
  std::optional<std::uint64_t> events_done(unsigned shard) const override;
  void render_status(unsigned shard, std::uint64_t events_accepted, std::string& out) const override;

  const shared& settings() const noexcept { return sh_; }
  // Shard `shard`'s probe (after prepare()).
  probe& probe_of(unsigned shard) { return *probes_.at(shard); }
  // A new upstream token (SIGHUP re-read --upstream-token-file). Any thread;
  // batches sent from now on carry it, batches in flight keep theirs.
  void set_token(std::string token);

 private:
  shared sh_;
  std::vector<std::unique_ptr<probe>> probes_;
  std::vector<const probe*> views_;
};

}  // namespace tg::upstream
