// SPDX-License-Identifier: Apache-2.0
// Routing and the ingest path. A request is admitted whole: every event is
// reserved in the ring, then all are committed together, or none is.
#include "ingest_handler.hpp"

#include <array>

#include "tollgate/base/clock.hpp"
#include "tollgate/server/status.hpp"
#include "tollgate/spool/format.hpp"
#include "tollgate_config.h"

namespace tg::server {
namespace {
constexpr std::string_view v1_path = "/api/v1/events";
constexpr std::string_view v3_path = "/api/v3/openmeter/events";
constexpr std::string_view api_prefix = "/api/";  // the rest of OpenMeter's API: passed through

endpoint endpoint_of(cloudevents::api version) {
  return version == cloudevents::api::v1 ? endpoint::ingest_v1 : endpoint::ingest_v3;
}

// A parked request's validated events: its retries only retry admission.
// The views point into the request's body, which the parser keeps while the
// request is parked.
struct validated_request final : parked_state {
  std::vector<cloudevents::event_ref> events;
  // The events point into the body (kept while parked). Events a route or
  // binary mode made point into the shard's mapper output, which the next
  // request reuses: those are mapped again on the retry (it is deterministic).
  bool from_body = true;
};

refusal from_mapping_error(mapping::errc e) noexcept {
  switch (e) {
    case mapping::errc::empty_body: return refusal::empty_body;
    case mapping::errc::malformed_json: return refusal::malformed_json;
    case mapping::errc::binary_mode: return refusal::binary_mode;
    case mapping::errc::too_many_events: return refusal::too_many_events;
    case mapping::errc::output_too_large: return refusal::mapped_too_large;
    case mapping::errc::unmapped:
    case mapping::errc::none: break;
  }
  return refusal::unmapped;
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

std::string method_detail(const http::request& req, std::string_view use) {
  return "method " + std::string(req.method_name) + " is not allowed on " + std::string(req.path) + "; use " +
         std::string(use);
}

}  // namespace

ingest_handler::ingest_handler(const options& opts, ring::event_ring& ring, probe& counters,
                               const process_state& process, spool::driver* spool)
    : opts_(opts), ring_(ring), counters_(counters), process_(process), validator_(opts.validation), spool_(spool),
      routes_(process.routes), mapper_(mapping::options{opts.validation.max_events}) {
  events_.reserve(opts.validation.max_events);
  if (spool_ != nullptr) payloads_.reserve(opts.validation.max_events);
}

bool ingest_handler::ready() const {
  if (process_.stopping.load(std::memory_order_relaxed)) return false;
  if (process_.output != nullptr && !process_.output->ready()) return false;
  if (spool_ != nullptr) {
    // The ring is only a cache in front of the spool: what matters is whether
    // every shard's spool has room and can write.
    for (const spool::probe* m : process_.spool_probes) {
      if (m->failing.get() != 0) return false;
      if (process_.spool_shard_max_bytes != 0 &&
          static_cast<double>(m->bytes.get()) >
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

  // Inbound authentication, where configured, comes before this point: the
  // pass-through never sees a request tollgate itself would refuse.
  if (path == v1_path || path == v3_path) {
    const auto version = path == v1_path ? cloudevents::api::v1 : cloudevents::api::v3;
    if (req.verb == http::method::post) return ingest(req, version, conn, out, ctx);
    // GET on these paths is OpenMeter's event list: the upstream's to answer.
    if (get && opts_.proxy == proxy_mode::on) return pass(req, endpoint_of(version), conn, out, ctx);
    return refuse(endpoint_of(version), conn, out, refusal::post_only, method_detail(req, "POST"));
  }
  if (opts_.proxy == proxy_mode::on && path.starts_with(api_prefix)) {
    return pass(req, endpoint::other, conn, out, ctx);
  }

  endpoint ep = endpoint::other;
  if (path == "/healthz") ep = endpoint::healthz;
  else if (path == "/readyz") ep = endpoint::readyz;
  else if (path == "/metrics") ep = endpoint::metrics;
  else if (path == "/status") ep = endpoint::status;
  else if (path == "/status.json") ep = endpoint::status_json;

  if (ep == endpoint::other) {
    // --mappings: any JSON payload, POSTed to a route, becomes CloudEvents.
    if (const mapping::route_table* routes = routes_.get()) {
      if (const mapping::route* r = routes->find(path)) {
        if (req.verb != http::method::post) return refuse(ep, conn, out, refusal::post_only, method_detail(req, "POST"));
        return ingest_mapped(req, *r, conn, out, ctx);
      }
    }
    return refuse(ep, conn, out, refusal::no_route, "no route for " + std::string(path));
  }
  if (!get) return refuse(ep, conn, out, refusal::get_only, method_detail(req, "GET"));
  int status = 200;
  std::string_view body;
  std::string_view type = "text/plain; charset=utf-8";
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 1> no_store = {
      {{"Cache-Control", "no-store"}}};
  http::header_list extra;
  if (ep == endpoint::healthz) {
    body = "ok\n";
  } else if (ep == endpoint::readyz) {
    const bool ok = ready();
    status = ok ? 200 : 503;
    body = ok ? "ready\n" : "not ready\n";
  } else if (ep == endpoint::status) {
    body = status_page_html();
    type = status_page_content_type;
    extra = no_store;
  } else if (ep == endpoint::status_json) {
    const timespec t = wall_now();
    scratch_.clear();
    render_status_json(process_,
                       {static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9, TOLLGATE_VERSION, ready()},
                       scratch_);
    body = scratch_;
    type = status_json_content_type;
    extra = no_store;
  } else {
    scratch_.clear();
    render_metrics_page(process_, ready(), scratch_);
    body = scratch_;
    type = "text/plain; version=0.0.4; charset=utf-8";
  }
  http::write_body(out, status, type, body, conn, extra);
  if (head_only) out.resize(out.size() - body.size());
  counters_.count_request(ep, status);
  return outcome::answered;
}

// The rest of OpenMeter's API goes to the upstream's, when there is one.
outcome ingest_handler::pass(const http::request& req, endpoint ep, http::connection conn, std::string& out,
                             const request_context& ctx) {
  if (!ctx.can_pass) return refuse(ep, conn, out, refusal::no_upstream_api);
  if (req.body.size() > opts_.proxy_max_body_bytes) return refuse(ep, conn, out, refusal::proxy_body_too_large);
  return outcome::pass;
}

// Ring bytes the validated request needs (records framed and padded).
std::size_t ingest_handler::ring_footprint() const {
  std::size_t n = 0;
  for (const cloudevents::event_ref& ev : events_) n += ring::event_ring::footprint(cloudevents::stamped_size(ev));
  return n;
}

outcome ingest_handler::ingest(const http::request& req, cloudevents::api version, http::connection conn,
                               std::string& out, request_context& ctx) {
  auto* kept = static_cast<validated_request*>(ctx.kept.get());
  if (kept != nullptr && kept->from_body) {
    // A retry of a parked request: validated on its first try.
    events_.swap(kept->events);
    return admit(req.body, true, version, conn, out, ctx);
  }
  const auto ep = endpoint_of(version);
  if (mapping::is_binary_mode(req.headers(), req.content_type)) {
    // CloudEvents HTTP binary mode: the attributes in ce-* headers, the body
    // as data; made into one structured event and validated like any other.
    mapping::error merr;
    if (!mapping::from_binary(req.headers(), req.content_type, req.body, mapped_, merr)) {
      return refuse(ep, conn, out, from_mapping_error(merr.code), merr.detail);
    }
    cloudevents::error err;
    if (!validator_.validate(mapped_.json(), cloudevents::media_type::single, version, events_, err)) {
      return refuse(ep, conn, out, from_validation_error(err.code), err.detail);
    }
    return admit(mapped_.json(), false, version, conn, out, ctx);
  }
  const auto type =
      req.has_content_type ? cloudevents::classify(req.content_type) : cloudevents::media_type::unsupported;
  cloudevents::error err;
  const bool valid = type == cloudevents::media_type::unsupported
                         ? (err = cloudevents::media_type_error(req.content_type), false)
                         : validator_.validate(req.body, type, version, events_, err);
  if (!valid) return refuse(ep, conn, out, from_validation_error(err.code), err.detail);
  return admit(req.body, true, version, conn, out, ctx);
}

// A mapping route: the body is mapped by the route's templates into a batch,
// which goes through the same validator, ring, spool and output as any batch.
// Answered like /api/v1/events (204), and counted with it.
outcome ingest_handler::ingest_mapped(const http::request& req, const mapping::route& route, http::connection conn,
                                      std::string& out, request_context& ctx) {
  constexpr auto version = cloudevents::api::v1;
  const auto ep = endpoint_of(version);
  if (!mapping::is_json_media_type(req.content_type)) {
    return refuse(ep, conn, out, refusal::unsupported_media_type,
                  "route " + std::string(mapping::path_of(route)) + " takes application/json, not \"" +
                      std::string(req.content_type) + "\"");
  }
  mapping::error merr;
  if (!mapper_.map(route, req.body, mapped_, merr)) return refuse(ep, conn, out, from_mapping_error(merr.code), merr.detail);
  cloudevents::error err;
  if (!validator_.validate(mapped_.json(), cloudevents::media_type::batch, version, events_, err)) {
    return refuse(ep, conn, out, from_validation_error(err.code),
                  "route " + std::string(mapping::path_of(route)) + ": " + err.detail);
  }
  return admit(mapped_.json(), false, version, conn, out, ctx);
}

outcome ingest_handler::admit(std::string_view src, bool from_body, cloudevents::api version, http::connection conn,
                              std::string& out, request_context& ctx) {
  return spool_ != nullptr ? admit_spooled(src, from_body, version, conn, out, ctx)
                           : admit_ring(src, from_body, version, conn, out, ctx);
}

// Keeps the validated events with the connection and asks to be called again.
outcome ingest_handler::park(request_context& ctx, std::size_t park_bytes, bool from_body) {
  if (!ctx.kept) ctx.kept = std::make_unique<validated_request>();
  auto& kept = static_cast<validated_request&>(*ctx.kept);
  kept.events.swap(events_);
  kept.from_body = from_body;
  ctx.park_bytes = park_bytes;
  return outcome::park;
}

outcome ingest_handler::admit_ring(std::string_view src, bool from_body, cloudevents::api version,
                                   http::connection conn, std::string& out, request_context& ctx) {
  const auto ep = endpoint_of(version);
  // Above the high watermark requests wait (the shard stops reading their
  // connections, so TCP pushes back) until the output has caught up, or are
  // refused at once with --when-full=reject.
  const bool over_watermark =
      static_cast<double>(ring_.used_bytes()) > opts_.high_watermark * static_cast<double>(ring_.capacity());
  if (over_watermark && opts_.full == when_full::reject) return refuse(ep, conn, out, refusal::buffer_full_now);
  if (over_watermark && !ctx.admit_expired) return park(ctx, ring_footprint(), from_body);

  // Stamp events without a time with one receipt time for the whole request.
  char now[rfc3339_millis_len];
  const std::string_view stamp_time = receipt_time(events_, now);
  const std::uint64_t ring_begin = ring_.committed_end();
  std::size_t bytes = 0;
  for (const cloudevents::event_ref& ev : events_) {
    const std::size_t n = cloudevents::stamped_size(ev);
    char* dst = ring_.try_reserve(n);
    if (dst == nullptr) {
      ring_.rollback();
      if (opts_.full == when_full::reject) return refuse(ep, conn, out, refusal::buffer_full_now);
      if (!ctx.admit_expired) return park(ctx, ring_footprint(), from_body);
      return refuse(ep, conn, out, refusal::buffer_full);
    }
    cloudevents::stamp(src, ev, stamp_time, dst);
    bytes += n;
  }
  ring_.commit();
  counters_.events_accepted.add(events_.size());
  counters_.event_bytes_accepted.add(bytes);
  const bool wait = opts_.ack == ack_mode::upstream && !events_.empty();
  if (wait) {
    ctx.ack_ring_begin = ring_begin;
    ctx.ack_ring_end = ring_.committed_end();
  }
  return admitted(version, wait ? ring_.committed_end() : 0, ack_wait::ring_released, conn, out, ctx);
}

// The request's events are in: answer now, or tell the front door what the
// answer waits for (position 0: nothing).
outcome ingest_handler::admitted(cloudevents::api version, std::uint64_t position, ack_wait wait,
                                 http::connection conn, std::string& out, request_context& ctx) {
  const auto ep = endpoint_of(version);
  const int status = version == cloudevents::api::v1 ? 204 : 202;
  if (position != 0) {
    ctx.ack_position = position;
    ctx.ack_status = status;
    ctx.wait = wait;
    return outcome::await_ack;  // the front door answers (and counts) once acknowledged
  }
  http::write_empty(out, status, conn);
  counters_.count_request(ep, status);
  return outcome::answered;
}

outcome ingest_handler::refuse(endpoint ep, http::connection conn, std::string& out, refusal r,
                               std::string_view detail) {
  write_refusal(out, r, conn, detail);
  counters_.count(r);
  counters_.count_request(ep, describe(r).status);
  return outcome::answered;
}

// With a spool every event is appended to it; the ring holds a copy while it
// keeps up (the output reads from memory), otherwise the spool alone does and
// the output gets the events back from disk.
outcome ingest_handler::admit_spooled(std::string_view src, bool from_body, cloudevents::api version,
                                      http::connection conn, std::string& out, request_context& ctx) {
  using room = spool::driver::room;
  const auto ep = endpoint_of(version);
  std::size_t spool_bytes = 0, stamped_total = 0;
  for (const cloudevents::event_ref& ev : events_) {
    const std::size_t n = cloudevents::stamped_size(ev);
    stamped_total += n;
    spool_bytes += spool::record_footprint(n);
  }
  switch (spool_->admit(spool_bytes)) {
    case room::ok: break;
    case room::failing: return refuse(ep, conn, out, refusal::spool_failing);
    case room::full:
    case room::busy: {
      if (opts_.full == when_full::reject) return refuse(ep, conn, out, refusal::spool_full_now);
      if (!ctx.admit_expired) return park(ctx, 0, from_body);  // asked again whenever the spool makes progress
      return refuse(ep, conn, out, refusal::spool_full);
    }
  }

  char now[rfc3339_millis_len];
  const std::string_view stamp_time = receipt_time(events_, now);
  payloads_.clear();
  const std::uint64_t ring_begin = ring_.committed_end();
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
      cloudevents::stamp(src, ev, stamp_time, dst);
      payloads_.emplace_back(dst, n);
    }
  }
  if (!in_ring) {
    payloads_.clear();
    if (stamped_.size() < stamped_total) stamped_.resize(stamped_total);
    std::size_t off = 0;
    for (const cloudevents::event_ref& ev : events_) {
      const std::size_t n = cloudevents::stamped_size(ev);
      cloudevents::stamp(src, ev, stamp_time, stamped_.data() + off);
      payloads_.emplace_back(stamped_.data() + off, n);
      off += n;
    }
  }
  auto last = spool_->append_request(payloads_, in_ring);
  if (!last) {
    if (in_ring) ring_.rollback();
    return refuse(ep, conn, out, refusal::spool_append_failed);
  }
  if (in_ring) ring_.commit();
  counters_.events_accepted.add(events_.size());
  counters_.event_bytes_accepted.add(stamped_total);
  if (opts_.ack == ack_mode::durable) return admitted(version, *last, ack_wait::spool_synced, conn, out, ctx);
  if (opts_.ack == ack_mode::upstream) {
    // A request the ring took is checked for refusals by ring position; one
    // whose events went to disk only comes back into the ring later, so it
    // is checked by sequence number (spool::driver::refused).
    ctx.ack_first_seq = *last + 1 - events_.size();
    if (in_ring) {
      ctx.ack_ring_begin = ring_begin;
      ctx.ack_ring_end = ring_.committed_end();
    }
    return admitted(version, *last, ack_wait::spool_delivered, conn, out, ctx);
  }
  return admitted(version, 0, ack_wait::spool_synced, conn, out, ctx);
}

}  // namespace tg::server
