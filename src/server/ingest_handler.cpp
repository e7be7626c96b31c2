// SPDX-License-Identifier: Apache-2.0
// Routing and the ingest path. A request is admitted whole: every event is
// reserved in the ring, then all are committed together, or none is.
#include "ingest_handler.hpp"

#include <array>

#include "spool_driver.hpp"
#include "status_map.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/metrics/prometheus.hpp"
#include "tollgate/spool/format.hpp"

namespace tg::server {
namespace {
using hdr = std::pair<std::string_view, std::string_view>;
const std::array<hdr, 1> allow_post = {hdr{"Allow", "POST"}};
const std::array<hdr, 1> allow_get = {hdr{"Allow", "GET, HEAD"}};
const std::array<hdr, 1> retry_after = {hdr{"Retry-After", "1"}};

constexpr std::string_view v1_path = "/api/v1/events";
constexpr std::string_view v3_path = "/api/v3/openmeter/events";
constexpr std::string_view buffer_full_detail = "the event buffer is full; retry later";

metrics::endpoint endpoint_of(cloudevents::api version) {
  return version == cloudevents::api::v1 ? metrics::endpoint::ingest_v1 : metrics::endpoint::ingest_v3;
}

// One receipt time for the whole request, written into `buf`; empty when no
// event lacks a time (the clock is not read then).
std::string_view receipt_time(const std::vector<cloudevents::event_ref>& events,
                              char (&buf)[rfc3339_millis_len]) {
  for (const cloudevents::event_ref& ev : events) {
    if (ev.fix != cloudevents::time_fix::none) {
      format_rfc3339_millis(wall_now(), buf);
      return {buf, sizeof buf};
    }
  }
  return {};
}

}  // namespace

ingest_handler::ingest_handler(const options& opts, ring::event_ring& ring, metrics::shard_metrics& counters,
                 const process_state& process, spool_driver* spool)
    : opts_(opts), ring_(ring), counters_(counters), process_(process), validator_(opts.validation), spool_(spool) {
  events_.reserve(opts.validation.max_events);
  if (spool_ != nullptr) payloads_.reserve(opts.validation.max_events);
}

bool ingest_handler::ready() const {
  if (process_.stopping.load(std::memory_order_relaxed)) return false;
  if (spool_ != nullptr) {
    // The ring is only a cache in front of the spool: what matters is whether
    // every shard's spool has room and can write.
    for (const metrics::shard_metrics* m : process_.shard_metrics) {
      if (m->spool.failing.get() != 0) return false;
      if (process_.spool_shard_max_bytes != 0 &&
          static_cast<double>(m->spool.bytes.get()) >
              opts_.high_watermark * static_cast<double>(process_.spool_shard_max_bytes)) {
        return false;
      }
    }
    return true;
  }
  for (const ring::event_ring* r : process_.rings) {
    if (static_cast<double>(r->used_bytes()) > opts_.high_watermark * static_cast<double>(r->capacity())) return false;
  }
  return true;
}

outcome ingest_handler::handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) {
  const std::string_view path = req.path;
  const bool get = req.verb == http::method::get || req.verb == http::method::head;
  const bool head_only = req.verb == http::method::head;

  if (path == v1_path || path == v3_path) {
    const auto ep = path == v1_path ? metrics::endpoint::ingest_v1 : metrics::endpoint::ingest_v3;
    if (req.verb != http::method::post) {
      http::write_problem(out, 405, "method " + std::string(req.method_name) + " is not allowed on " + std::string(path) + "; use POST", conn, allow_post);
      counters_.count_request(ep, 405);
      return outcome::answered;
    }
    return ingest(req, path == v1_path ? cloudevents::api::v1 : cloudevents::api::v3, conn, out, ctx);
  }

  metrics::endpoint ep = metrics::endpoint::other;
  if (path == "/healthz") ep = metrics::endpoint::healthz;
  else if (path == "/readyz") ep = metrics::endpoint::readyz;
  else if (path == "/metrics") ep = metrics::endpoint::metrics;

  if (ep == metrics::endpoint::other) {
    http::write_problem(out, 404, "no route for " + std::string(path), conn);
    counters_.count_request(ep, 404);
    return outcome::answered;
  }
  if (!get) {
    http::write_problem(out, 405, "method " + std::string(req.method_name) + " is not allowed on " + std::string(path) + "; use GET", conn, allow_get);
    counters_.count_request(ep, 405);
    return outcome::answered;
  }
  int status = 200;
  std::string_view body;
  if (ep == metrics::endpoint::healthz) {
    body = "ok\n";
  } else if (ep == metrics::endpoint::readyz) {
    const bool ok = ready();
    status = ok ? 200 : 503;
    body = ok ? "ready\n" : "not ready\n";
  } else {
    metrics_page(conn, out, head_only);
    counters_.count_request(ep, 200);
    return outcome::answered;
  }
  http::write_body(out, status, "text/plain; charset=utf-8", body, conn);
  if (head_only) out.resize(out.size() - body.size());
  counters_.count_request(ep, status);
  return outcome::answered;
}

// Ring bytes the validated request needs (records framed and padded).
std::size_t ingest_handler::ring_footprint() const {
  std::size_t n = 0;
  for (const cloudevents::event_ref& ev : events_) n += ring::event_ring::footprint(cloudevents::stamped_size(ev));
  return n;
}

void ingest_handler::metrics_page(http::connection conn, std::string& out, bool head_only) {
  std::vector<metrics::shard_view> shards;
  shards.reserve(process_.shard_metrics.size());
  for (std::size_t i = 0; i < process_.shard_metrics.size(); ++i) {
    const ring::event_ring* r = process_.rings[i];
    shards.push_back({process_.shard_metrics[i], r->used_bytes(), r->capacity()});
  }
  scratch_.clear();
  metrics::render({shards, process_.output, process_.start_time_seconds, ready(), process_.upstream, spool_ != nullptr},
                  scratch_);
  http::write_body(out, 200, "text/plain; version=0.0.4; charset=utf-8", scratch_, conn);
  if (head_only) out.resize(out.size() - scratch_.size());
}

outcome ingest_handler::ingest(const http::request& req, cloudevents::api version, http::connection conn,
                               std::string& out, request_context& ctx) {
  const auto ep = endpoint_of(version);
  const auto type = req.has_content_type ? cloudevents::classify(req.content_type) : cloudevents::media_type::unsupported;
  cloudevents::error err;
  const bool valid = type == cloudevents::media_type::unsupported
                         ? (err = cloudevents::media_type_error(req.content_type), false)
                         : validator_.validate(req.body, type, version, events_, err);
  if (!valid) {
    const ingest_failure f = map_ingest_error(err.code);
    http::write_problem(out, f.status, err.detail, conn);
    counters_.ingest_rejected[static_cast<std::size_t>(f.reason)].add();
    counters_.count_request(ep, f.status);
    return outcome::answered;
  }

  if (spool_ != nullptr) return ingest_spooled(version, req, conn, out, ctx);

  // Above the high watermark requests wait (the shard stops reading their
  // connections, so TCP pushes back) until the consumer has caught up, or are
  // refused at once with --when-full=reject.
  const bool over_watermark =
      static_cast<double>(ring_.used_bytes()) > opts_.high_watermark * static_cast<double>(ring_.capacity());
  // --when-full=reject: the client hears at once that it should slow down.
  if (over_watermark && opts_.full == when_full::reject) {
    return refuse(ep, conn, out, 429, metrics::reject_reason::buffer_full, buffer_full_detail);
  }
  if (over_watermark && !ctx.admit_expired) {
    ctx.park_bytes = ring_footprint();
    return outcome::park;
  }

  // Stamp events without a time with one receipt time for the whole request.
  char now[rfc3339_millis_len];
  const std::string_view stamp_time = receipt_time(events_, now);
  std::size_t bytes = 0;
  for (const cloudevents::event_ref& ev : events_) {
    const std::size_t n = cloudevents::stamped_size(ev);
    char* dst = ring_.try_reserve(n);
    if (dst == nullptr) {
      ring_.rollback();
      if (opts_.full == when_full::reject) {
        return refuse(ep, conn, out, 429, metrics::reject_reason::buffer_full, buffer_full_detail);
      }
      if (!ctx.admit_expired) {
        ctx.park_bytes = ring_footprint();
        return outcome::park;
      }
      return refuse(ep, conn, out, 503, metrics::reject_reason::buffer_full, buffer_full_detail);
    }
    cloudevents::stamp(req.body, ev, stamp_time, dst);
    bytes += n;
  }
  ring_.commit();
  counters_.events_accepted.add(events_.size());
  counters_.event_bytes_accepted.add(bytes);
  const bool wait = opts_.ack == ack_mode::upstream && !events_.empty();
  return admitted(version, wait ? ring_.committed_end() : 0, ack_wait::ring_released, conn, out, ctx);
}

// The request's events are in: answer now, or tell the shard what the answer
// waits for (position 0: nothing).
outcome ingest_handler::admitted(cloudevents::api version, std::uint64_t position, ack_wait wait,
                                 http::connection conn, std::string& out, request_context& ctx) {
  const auto ep = endpoint_of(version);
  const int status = version == cloudevents::api::v1 ? 204 : 202;
  if (position != 0) {
    ctx.ack_position = position;
    ctx.ack_status = status;
    ctx.wait = wait;
    return outcome::await_ack;  // the shard answers (and counts) once acknowledged
  }
  http::write_empty(out, status, conn);
  counters_.count_request(ep, status);
  return outcome::answered;
}

outcome ingest_handler::refuse(metrics::endpoint ep, http::connection conn, std::string& out, int status,
                               metrics::reject_reason why, std::string_view detail) {
  http::write_problem(out, status, detail, conn, retry_after);
  counters_.ingest_rejected[static_cast<std::size_t>(why)].add();
  counters_.count_request(ep, status);
  return outcome::answered;
}

// With a spool every event is appended to it; the ring holds a copy while it
// keeps up (the forwarder reads from memory), otherwise the spool alone does
// and the forwarder gets the events back from disk.
outcome ingest_handler::ingest_spooled(cloudevents::api version, const http::request& req, http::connection conn,
                                       std::string& out, request_context& ctx) {
  using room = spool_driver::room;
  using metrics::reject_reason;
  const auto ep = endpoint_of(version);
  std::size_t spool_bytes = 0, stamped_total = 0;
  for (const cloudevents::event_ref& ev : events_) {
    const std::size_t n = cloudevents::stamped_size(ev);
    stamped_total += n;
    spool_bytes += spool::record_footprint(n);
  }
  switch (spool_->admit(spool_bytes)) {
    case room::ok: break;
    case room::failing:
      return refuse(ep, conn, out, 503, reject_reason::spool_error,
                    "the spool cannot write to disk (disk full or an I/O error); accepted events are kept; retry later");
    case room::full:
    case room::busy: {
      if (opts_.full == when_full::reject) {
        return refuse(ep, conn, out, 429, reject_reason::spool_full, "the spool is full; retry later");
      }
      if (!ctx.admit_expired) {
        ctx.park_bytes = 0;  // asked again whenever the spool makes progress
        return outcome::park;
      }
      return refuse(ep, conn, out, 503, reject_reason::spool_full,
                    "the spool is full (--spool-max-bytes) or its writes are behind; retry later");
    }
  }

  char now[rfc3339_millis_len];
  const std::string_view stamp_time = receipt_time(events_, now);
  payloads_.clear();
  bool in_ring = spool_->ring_in_sync();
  if (in_ring) {
    for (const cloudevents::event_ref& ev : events_) {
      const std::size_t n = cloudevents::stamped_size(ev);
      char* dst = ring_.try_reserve(n);
      if (dst == nullptr) {
        ring_.rollback();
        in_ring = false;
        break;
      }
      cloudevents::stamp(req.body, ev, stamp_time, dst);
      payloads_.emplace_back(dst, n);
    }
  }
  if (!in_ring) {
    payloads_.clear();
    if (stamped_.size() < stamped_total) stamped_.resize(stamped_total);
    std::size_t off = 0;
    for (const cloudevents::event_ref& ev : events_) {
      const std::size_t n = cloudevents::stamped_size(ev);
      cloudevents::stamp(req.body, ev, stamp_time, stamped_.data() + off);
      payloads_.emplace_back(stamped_.data() + off, n);
      off += n;
    }
  }
  auto last = spool_->append_request(payloads_, in_ring);
  if (!last) {
    if (in_ring) ring_.rollback();
    return refuse(ep, conn, out, 503, reject_reason::spool_error,
                  "the spool cannot take the events (disk full or an I/O error); retry later");
  }
  if (in_ring) ring_.commit();
  counters_.events_accepted.add(events_.size());
  counters_.event_bytes_accepted.add(stamped_total);
  if (opts_.ack == ack_mode::durable) return admitted(version, *last, ack_wait::spool_synced, conn, out, ctx);
  if (opts_.ack == ack_mode::upstream) return admitted(version, *last, ack_wait::spool_delivered, conn, out, ctx);
  return admitted(version, 0, ack_wait::spool_synced, conn, out, ctx);
}

}  // namespace tg::server
