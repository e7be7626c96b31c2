// SPDX-License-Identifier: Apache-2.0
// Routing and ingest for tollgate-sink. The order of checks on ingest is what
// a real upstream's layers would do: added latency (the network), then the
// token (the edge), then injected drops and failures (an overloaded service
// that never reads the body), then validation and the poison ids.
#include "sink_handler.hpp"

#include <simdjson.h>
#include <strings.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>
#include <utility>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"

namespace tg::sink {
namespace {
using hdr = std::pair<std::string_view, std::string_view>;
constexpr std::string_view ingest_path = "/api/v1/events";
constexpr std::string_view json_type = "application/json";

std::uint64_t wall_ms() {
  const timespec t = wall_now();
  return static_cast<std::uint64_t>(t.tv_sec) * 1000 + static_cast<std::uint64_t>(t.tv_nsec) / 1000000;
}

void method_not_allowed(const http::request& req, std::string_view allow, http::connection conn, std::string& out) {
  const std::array<hdr, 1> h = {hdr{"Allow", allow}};
  http::write_problem(out, 405,
                      "method " + std::string(req.method_name) + " is not allowed on " + std::string(req.path) +
                          "; use " + std::string(allow),
                      conn, h);
}

// 200 with a body; HEAD gets the same head and no body.
void write_ok(const http::request& req, std::string_view type, std::string_view body, http::connection conn,
              std::string& out) {
  http::write_body(out, 200, type, body, conn);
  if (req.verb == http::method::head) out.resize(out.size() - body.size());
}

}  // namespace

cloudevents::media_type openmeter_v1_media_type(std::string_view ct, std::string& detail) {
  using cloudevents::media_type;
  constexpr std::array<std::pair<std::string_view, media_type>, 3> types = {
      std::pair{std::string_view("application/cloudevents+json"), media_type::single},
      std::pair{std::string_view("application/cloudevents-batch+json"), media_type::batch},
      std::pair{json_type, media_type::json}};
  for (const auto& [name, type] : types) {
    if (ct == name) return type;
  }
  // The schema validator strips parameters and passes a known base type; the
  // handler then compares the raw header and refuses it.
  std::string_view base = ct.substr(0, ct.find(';'));
  while (!base.empty() && (base.back() == ' ' || base.back() == '\t')) base.remove_suffix(1);
  for (const auto& [name, type] : types) {
    if (base == name) {
      detail = "invalid content type: " + std::string(ct);
      return media_type::unsupported;
    }
  }
  detail = "request body has an error: header Content-Type has unexpected value \"" + std::string(ct) + "\"";
  return media_type::unsupported;
}

// Reads id and source of one validated event. The event's bytes are followed
// by the rest of the body and the parser's padding, which is what simdjson's
// padded view needs.
struct sink_handler::id_reader {
  simdjson::ondemand::parser parser;

  // Views stay valid until the next call.
  bool read(std::string_view body, const cloudevents::event_ref& ev, std::string_view& id, std::string_view& source) {
    const simdjson::padded_string_view view(body.data() + ev.begin, ev.end - ev.begin,
                                            body.size() - ev.begin + http::body_padding);
    simdjson::ondemand::document doc;
    simdjson::ondemand::object obj;
    if (parser.iterate(view).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj) != simdjson::SUCCESS)
      return false;
    return obj.find_field_unordered("id").get_string().get(id) == simdjson::SUCCESS &&
           obj.find_field_unordered("source").get_string().get(source) == simdjson::SUCCESS;
  }
};

sink_state::sink_state(std::string bearer_token, const faults& initial, const std::string& record_path)
    : token(std::move(bearer_token)), record(record_path), current(initial) {}

faults sink_state::snapshot() {
  std::lock_guard<std::mutex> lock(faults_m);
  return current;
}

faults sink_state::replace(const faults& f) {
  std::lock_guard<std::mutex> lock(faults_m);
  current = f;
  return current;
}

sink_handler::sink_handler(sink_state& state, const server::options& opts, unsigned shard_index)
    : state_(state), validator_(opts.validation), ids_(std::make_unique<id_reader>()) {
  std::random_device rd;
  rng_ = (static_cast<std::uint64_t>(rd()) << 32 | rd()) ^ (0x9e3779b97f4a7c15ull * (shard_index + 1));
  if (rng_ == 0) rng_ = 1;
}

sink_handler::~sink_handler() = default;

double sink_handler::draw() noexcept {
  // xorshift64*: plenty for choosing which requests fail.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return static_cast<double>((rng_ * 0x2545f4914f6cdd1dull) >> 11) * 0x1.0p-53;
}

bool sink_handler::authorized(const http::request& req) const {
  constexpr std::string_view scheme = "bearer ";
  std::string_view a = req.authorization;
  if (a.size() <= scheme.size() || ::strncasecmp(a.data(), scheme.data(), scheme.size()) != 0) return false;
  a.remove_prefix(scheme.size());
  while (!a.empty() && a.front() == ' ') a.remove_prefix(1);
  return a == state_.token;
}

server::outcome sink_handler::handle(const http::request& req, http::connection conn, std::string& out,
                                     server::request_context& ctx) {
  const std::string_view path = req.path;
  const bool get = req.verb == http::method::get || req.verb == http::method::head;
  const bool post = req.verb == http::method::post;
  if (path == ingest_path) {
    if (post) return ingest(req, conn, out, ctx);
    if (get) api_endpoint(req, conn, out);  // OpenMeter's event list
    else method_not_allowed(req, "GET, POST", conn, out);
    return server::outcome::answered;
  }
  if (path == "/healthz") {
    if (!get) method_not_allowed(req, "GET", conn, out);
    else write_ok(req, "text/plain; charset=utf-8", "ok\n", conn, out);
  } else if (path == "/stats") {
    if (!get) method_not_allowed(req, "GET", conn, out);
    else write_ok(req, json_type, state_.counters.json(), conn, out);
  } else if (path == "/reset") {
    if (!post) {
      method_not_allowed(req, "POST", conn, out);
    } else {
      state_.counters.reset();
      log::info("counters reset");
      http::write_empty(out, 204, conn);
    }
  } else if (path == "/faults") {
    faults_endpoint(req, conn, out);
  } else if (path == "/api-calls") {
    if (get) {
      write_ok(req, json_type, state_.api.json(), conn, out);
    } else if (req.verb == http::method::del) {
      state_.api.clear();
      http::write_empty(out, 204, conn);
    } else {
      method_not_allowed(req, "GET, DELETE", conn, out);
    }
  } else if (path.starts_with("/api/")) {
    api_endpoint(req, conn, out);
  } else {
    http::write_problem(out, 404, "no route for " + std::string(path), conn);
  }
  return server::outcome::answered;
}

void sink_handler::api_endpoint(const http::request& req, http::connection conn, std::string& out) {
  state_.api.record(req);
  const canned c = canned_answer(req.method_name, req.path);
  if (c.chunked_bytes == 0) {
    http::write_body(out, c.status, c.content_type, c.body, conn);
    if (req.verb == http::method::head) out.resize(out.size() - c.body.size());
    return;
  }
  out += "HTTP/1.1 200 OK\r\nContent-Type: " + c.content_type + "\r\nTransfer-Encoding: chunked\r\n";
  if (conn == http::connection::close) out += "Connection: close\r\n";
  out += "\r\n";
  if (req.verb == http::method::head) return;
  constexpr std::size_t piece = 1000;
  char size_line[32];
  for (std::size_t done = 0; done < c.chunked_bytes; done += piece) {
    const std::size_t n = std::min(piece, c.chunked_bytes - done);
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    out += size_line;
    out.append(n, 'y');
    out += "\r\n";
  }
  out += "0\r\n\r\n";
}

void sink_handler::faults_endpoint(const http::request& req, http::connection conn, std::string& out) {
  faults now;
  if (req.verb == http::method::get || req.verb == http::method::head) {
    now = state_.snapshot();
  } else if (req.verb == http::method::del) {
    now = state_.replace(faults{});
    log::info("faults cleared", {{"faults", faults_json(now)}});
  } else if (req.verb == http::method::post) {
    // Merged under the lock, so a run counting down meanwhile is not undone.
    std::unique_lock<std::mutex> lock(state_.faults_m);
    auto merged = merge_faults_json(req.body, state_.current);
    if (!merged) {
      lock.unlock();
      http::write_problem(out, 400, merged.error(), conn);
      return;
    }
    state_.current = merged.value();
    now = state_.current;
    lock.unlock();
    log::info("faults changed", {{"faults", faults_json(now)}});
  } else {
    method_not_allowed(req, "GET, POST, DELETE", conn, out);
    return;
  }
  write_ok(req, json_type, faults_json(now) + "\n", conn, out);
}

server::outcome sink_handler::ingest(const http::request& req, http::connection conn, std::string& out,
                                     server::request_context& ctx) {
  stats& st = state_.counters;
  // Checked outside the lock; answered only once the added latency is over.
  const bool auth_ok = state_.token.empty() || authorized(req);
  faults f;
  action what = action::pass;
  {
    std::lock_guard<std::mutex> lock(state_.faults_m);
    if (still_delayed(state_.current, ctx.first_try_ns, monotonic_ns())) return server::outcome::park;
    if (auth_ok) {
      what = decide(state_.current, draw(), draw());
      f = state_.current;
    }
  }
  st.requests.fetch_add(1, std::memory_order_relaxed);
  if (!auth_ok) {
    st.unauthorized.fetch_add(1, std::memory_order_relaxed);
    const std::array<hdr, 1> h = {hdr{"WWW-Authenticate", "Bearer"}};
    http::write_problem(out, 401, req.authorization.empty() ? "missing bearer token" : "invalid bearer token", conn, h);
    return server::outcome::answered;
  }

  if (what == action::drop) {
    st.fault_dropped.fetch_add(1, std::memory_order_relaxed);
    return server::outcome::drop;
  }
  if (what == action::fail) {
    st.fault_status.fetch_add(1, std::memory_order_relaxed);
    const std::array<hdr, 1> h = {hdr{"Retry-After", f.retry_after}};
    const http::header_list extra = f.retry_after.empty() ? http::header_list{} : http::header_list{h};
    // An injected 2xx is an upstream that answers oddly but has no error to tell;
    // OpenMeter blanks the detail of its 500s; other codes say what they are.
    if (f.status < 300) http::write_empty(out, f.status, conn, extra);
    else http::write_problem(out, f.status, f.status == 500 ? "" : "injected fault (tollgate-sink)", conn, extra);
    return server::outcome::answered;
  }

  cloudevents::error err;
  const auto type = openmeter_v1_media_type(req.content_type, err.detail);
  const bool valid = type != cloudevents::media_type::unsupported &&
                     validator_.validate(req.body, type, cloudevents::api::v1, events_, err);
  if (!valid) {
    st.rejected_requests.fetch_add(1, std::memory_order_relaxed);
    http::write_problem(out, err.code == cloudevents::errc::too_many_events ? 413 : 400, err.detail, conn);
    return server::outcome::answered;
  }

  keys_.clear();
  for (std::size_t i = 0; i < events_.size(); ++i) {
    std::string_view id, source;
    if (!ids_->read(req.body, events_[i], id, source)) {
      st.rejected_requests.fetch_add(1, std::memory_order_relaxed);
      http::write_problem(out, 400, "invalid event at index " + std::to_string(i) + ": cannot read id and source", conn);
      return server::outcome::answered;
    }
    if (poisoned(f, id)) {
      // OpenMeter refuses a batch whole when one event fails: nothing of it is kept.
      st.rejected_requests.fetch_add(1, std::memory_order_relaxed);
      st.fault_poison.fetch_add(1, std::memory_order_relaxed);
      http::write_problem(out, 400,
                          "invalid event at index " + std::to_string(i) + ": id \"" + std::string(id) +
                              "\" is rejected (tollgate-sink --reject-id-prefix)",
                          conn);
      return server::outcome::answered;
    }
    keys_.push_back(id_key(source, id));
  }

  if (state_.record.enabled() && !events_.empty()) {
    lines_.clear();
    for (const cloudevents::event_ref& ev : events_) recorder::flatten(lines_, req.body.substr(ev.begin, ev.end - ev.begin));
    if (!state_.record.append(lines_)) log::error("cannot write to the --record file");
  }
  st.accept(keys_, wall_ms());
  http::write_empty(out, 204, conn);
  return server::outcome::answered;
}

}  // namespace tg::sink
