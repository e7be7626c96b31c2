// SPDX-License-Identifier: Apache-2.0
// The pass-through: every request under /api/ that tollgate does not serve
// itself (meters, customers, portal tokens, GET /api/v1/events, ...) goes to
// the upstream's same path, and the upstream's answer streams back. A
// component of the shard's loop with its own bounded pool of keep-alive
// upstream connections (--proxy-connections) on the shard's io_uring, TLS as
// for ingest, --proxy-timeout-ms on every wait.
//
// The front door hands a request over with take() and pulls the answer's
// bytes with the deferred_reply it got back, while its connection's output
// is under its bound. Back pressure both ways: the request is whole (at most
// --proxy-max-body-bytes) and the client's connection reads nothing more
// until the answer is done; the answer is held here up to `buffer_bytes`,
// and past that the upstream connection stops being read, so a slow client
// slows the upstream's TCP instead of growing our memory.
// Lives on its shard's thread; touched by nothing else.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "proxy_conn.hpp"
#include "proxy_message.hpp"
#include "tollgate/http/response_stream.hpp"
#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/reactor/component.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/proxy_probe.hpp"
#include "tollgate/server/request_handler.hpp"

namespace tg::server {

class passthrough final : public reactor::component, public pass_target {
 public:
  // Answer bytes held per request before its upstream connection stops being read.
  static constexpr std::size_t buffer_bytes = 64 * 1024;

  // `up`: the upstream the HTTP output uses (URL, addresses, TLS context).
  passthrough(unsigned shard, const options& opts, const upstream::shared& up, reactor::uring& ring,
              proxy_probe& counters);
  ~passthrough() override;
  passthrough(const passthrough&) = delete;
  passthrough& operator=(const passthrough&) = delete;

  std::unique_ptr<deferred_reply> take(const http::request& req, http::connection conn,
                                       std::string_view peer) override;
  void on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) override;
  // Sends queued requests on idle (or new) connections.
  void poll(std::uint64_t now_ms) override;
  // --proxy-timeout-ms.
  void tick(std::uint64_t now_ms) override;
  // A request taken after this iteration's poll (a pipelined one the front
  // door parsed in its own poll) is sent on the next iteration, at once.
  long wakeup_in_us(std::uint64_t now_ms) const override;
  // Shutdown, before the ring goes: closes every upstream connection.
  void close();

 private:
  class reply;
  struct exchange;
  struct slot_use {
    int ex = -1;              // the exchange this connection serves, or -1 (idle or closed)
    bool reused = false;      // it carried an answer before: a failure with no byte may be a stale keep-alive
    bool got_bytes = false;   // the current exchange's answer has begun
    std::unique_ptr<http::response_stream> parser;
  };

  deferred_reply::state pull(std::uint32_t slot, std::uint32_t gen, std::string& out, std::size_t room);
  void abandon(std::uint32_t slot, std::uint32_t gen);
  void dispatch();
  void start_on(std::size_t conn, std::uint32_t ex);
  void on_news(std::size_t conn, proxy_conn::news n);
  void feed(std::size_t conn);
  void finish(std::size_t conn, exchange& e, bool keep_conn);
  void fail(exchange& e, proxy_failure f, std::string_view detail);
  void unbind(exchange& e, bool close_conn);

  unsigned shard_;
  const options& opts_;
  const upstream::shared& up_;
  reactor::uring& ring_;
  proxy_probe& m_;
  std::vector<std::unique_ptr<proxy_conn>> conns_;
  std::vector<slot_use> use_;
  std::vector<std::unique_ptr<exchange>> ex_;  // slot = index
  std::vector<std::uint32_t> free_ex_;
  std::deque<std::uint32_t> queue_;            // exchanges waiting for a connection, oldest first
  std::size_t addr_next_ = 0;
  bool fresh_ = false;  // a request was taken since the last dispatch
  std::uint64_t now_ = 0;
};

}  // namespace tg::server
