// SPDX-License-Identifier: Apache-2.0
// The pass-through's exchanges (one request and its answer) over its pool of
// upstream connections. Completions change state and append answer bytes to
// the exchange's buffer; the front door pulls them from its poll().
#include "passthrough.hpp"

#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/server/refusal.hpp"

namespace tg::server {

struct passthrough::exchange {
  std::uint32_t slot = 0;
  std::uint32_t gen = 0;
  bool in_use = false;
  enum class phase : std::uint8_t { queued, upstream, finished, aborted } ph = phase::queued;
  std::string request;  // the bytes for the upstream, kept for one retry
  std::string what;     // "GET /api/v1/meters", for the log line (never the query or a header)
  method_class mclass = method_class::read;
  bool idempotent = false;
  bool head_request = false;
  bool client_http11 = true;
  http::connection conn_hdr = http::connection::keep_alive;
  bool retried = false;
  unsigned connect_tries = 0;
  int conn = -1;
  bool head_written = false;
  bool close_client = false;
  proxy::framing framing = proxy::framing::length;
  std::string to_client;  // answer bytes the front door has not pulled yet
  std::uint64_t deadline_ms = 0;
  std::uint64_t sent_ns = 0;
};

class passthrough::reply final : public deferred_reply {
 public:
  reply(passthrough& p, std::uint32_t slot, std::uint32_t gen) : p_(p), slot_(slot), gen_(gen) {}
  ~reply() override { p_.abandon(slot_, gen_); }
  state pull(std::string& out, std::size_t room) override { return p_.pull(slot_, gen_, out, room); }

 private:
  passthrough& p_;
  std::uint32_t slot_, gen_;
};

passthrough::passthrough(unsigned shard, const options& opts, const upstream::shared& up, reactor::uring& ring,
                         proxy_probe& counters)
    : shard_(shard), opts_(opts), up_(up), ring_(ring), m_(counters), now_(monotonic_ms()) {
  for (unsigned i = 0; i < opts.proxy_connections; ++i) {
    conns_.push_back(std::make_unique<proxy_conn>(i, ring, *this, up.tls.get(), up.url.host));
    use_.emplace_back();
    use_.back().parser = std::make_unique<http::response_stream>();
  }
}

passthrough::~passthrough() = default;

void passthrough::close() {
  for (auto& c : conns_) c->close();
}

std::unique_ptr<deferred_reply> passthrough::take(const http::request& req, http::connection conn,
                                                  std::string_view peer) {
  std::uint32_t slot;
  if (!free_ex_.empty()) {
    slot = free_ex_.back();
    free_ex_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(ex_.size());
    ex_.push_back(std::make_unique<exchange>());
  }
  exchange& e = *ex_[slot];
  const std::uint32_t gen = e.gen;
  e = exchange{};
  e.slot = slot;
  e.gen = gen;
  e.in_use = true;
  proxy::write_upstream_request(req, up_.url.path_prefix, up_.url.host_header, peer, e.request);
  e.what.assign(req.method_name).append(" ").append(req.path.substr(0, 256));
  e.mclass = classify_method(req.verb);
  // RFC 9110 section 9.2.2: these may be sent again when a reused connection
  // turns out to have been closed before it saw the request.
  e.idempotent = req.verb == http::method::get || req.verb == http::method::head ||
                 req.verb == http::method::put || req.verb == http::method::del ||
                 req.verb == http::method::options;
  e.head_request = req.verb == http::method::head;
  e.client_http11 = req.version_minor >= 1;
  e.conn_hdr = conn;
  e.deadline_ms = now_ + opts_.proxy_timeout_ms;
  queue_.push_back(slot);
  fresh_ = true;
  m_.in_flight.add(1);
  return std::make_unique<reply>(*this, slot, gen);
}

long passthrough::wakeup_in_us(std::uint64_t now_ms) const {
  (void)now_ms;
  return fresh_ ? 0 : -1;
}

void passthrough::poll(std::uint64_t now_ms) {
  now_ = now_ms;
  if (!queue_.empty()) dispatch();
}

// Oldest first: an idle keep-alive connection if there is one, else a new
// connection while the pool has room; the rest wait.
void passthrough::dispatch() {
  fresh_ = false;
  while (!queue_.empty()) {
    const std::uint32_t slot = queue_.front();
    exchange& e = *ex_[slot];
    if (!e.in_use || e.ph != exchange::phase::queued) {
      queue_.pop_front();
      continue;
    }
    std::size_t idle = conns_.size(), spare = conns_.size();
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      if (use_[i].ex >= 0) continue;
      if (conns_[i]->open()) {
        idle = i;
        break;
      }
      if (conns_[i]->closed() && spare == conns_.size()) spare = i;
    }
    if (idle == conns_.size() && (spare == conns_.size() || up_.addrs.empty())) return;
    queue_.pop_front();
    e.ph = exchange::phase::upstream;
    if (idle != conns_.size()) {
      start_on(idle, slot);
      continue;
    }
    const auto& a = up_.addrs[addr_next_++ % up_.addrs.size()];
    ++e.connect_tries;
    use_[spare] = slot_use{static_cast<int>(slot), false, false, std::move(use_[spare].parser)};
    e.conn = static_cast<int>(spare);
    m_.connects.add();
    conns_[spare]->connect(a.first, a.second);
    if (conns_[spare]->closed()) fail(e, proxy_failure::connect, conns_[spare]->detail());  // no socket
  }
}

// Sends exchange `ex` on the open connection `conn`.
void passthrough::start_on(std::size_t conn, std::uint32_t ex) {
  exchange& e = *ex_[ex];
  slot_use& u = use_[conn];
  u.ex = static_cast<int>(ex);
  u.got_bytes = false;
  u.parser->start(e.head_request);
  e.conn = static_cast<int>(conn);
  e.sent_ns = monotonic_ns();
  e.deadline_ms = now_ + opts_.proxy_timeout_ms;
  m_.request_bytes.add(e.request.size());
  conns_[conn]->want_read(true);
  conns_[conn]->send(e.request);
}

void passthrough::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (t.slot >= conns_.size()) return;
  on_news(t.slot, conns_[t.slot]->on_cqe(t, cqe));
}

void passthrough::on_news(std::size_t conn, proxy_conn::news n) {
  slot_use& u = use_[conn];
  proxy_conn& c = *conns_[conn];
  switch (n) {
    case proxy_conn::news::none: return;
    case proxy_conn::news::opened:
      if (u.ex >= 0) start_on(conn, static_cast<std::uint32_t>(u.ex));
      return;
    case proxy_conn::news::data:
      if (u.ex < 0) {
        c.close();  // bytes nobody asked for: the connection cannot be trusted with a request
        return;
      }
      feed(conn);
      return;
    case proxy_conn::news::eof: {
      if (u.ex < 0) {
        c.close();  // the upstream closed an idle keep-alive connection
        return;
      }
      exchange& e = *ex_[static_cast<std::size_t>(u.ex)];
      std::string& dst = e.to_client;
      const bool chunking = e.head_written && e.framing == proxy::framing::chunked;
      const std::size_t mark = chunking ? proxy::begin_chunk(dst) : 0;
      const http::stream_result r = u.parser->finish(dst);
      if (chunking) proxy::end_chunk(dst, mark);
      if (r.ev == http::stream_event::message_complete) finish(conn, e, false);
      else fail(e, proxy_failure::closed, "the upstream closed the connection before its answer was complete");
      return;
    }
    case proxy_conn::news::failed:
      if (u.ex >= 0) fail(*ex_[static_cast<std::size_t>(u.ex)], c.why(), c.detail());
      return;
  }
}

// Plaintext from the upstream: through the response reader into the
// exchange's buffer, framed for the client as it goes.
void passthrough::feed(std::size_t conn) {
  slot_use& u = use_[conn];
  exchange& e = *ex_[static_cast<std::size_t>(u.ex)];
  std::string& in = conns_[conn]->inbox();
  m_.response_bytes.add(in.size());
  u.got_bytes = true;
  e.deadline_ms = now_ + opts_.proxy_timeout_ms;
  std::size_t off = 0;
  for (;;) {
    const bool chunking = e.head_written && e.framing == proxy::framing::chunked;
    const std::size_t mark = chunking ? proxy::begin_chunk(e.to_client) : 0;
    const http::stream_result r = u.parser->feed({in.data() + off, in.size() - off}, e.to_client);
    if (chunking) proxy::end_chunk(e.to_client, mark);
    off += r.consumed;
    if (r.ev == http::stream_event::need_more) break;
    if (r.ev == http::stream_event::error) {
      in.clear();
      fail(e, proxy_failure::bad_response, "the upstream's response is not valid HTTP/1.1");
      return;
    }
    if (r.ev == http::stream_event::head_complete) {
      const http::response_head& h = u.parser->head();
      m_.latency_seconds.observe(static_cast<double>(monotonic_ns() - e.sent_ns) / 1e9);
      m_.count(e.mclass, h.status);
      e.framing = proxy::write_client_head(h, e.conn_hdr, e.client_http11, e.to_client);
      e.head_written = true;
      if (e.framing == proxy::framing::until_close) e.close_client = true;
      continue;
    }
    // message_complete: bytes after it were never asked for.
    const bool clean = off == in.size();
    in.clear();
    finish(conn, e, clean && u.parser->keep_alive());
    return;
  }
  in.clear();
  // Over the bound: stop reading until the client has taken some (pull()).
  conns_[conn]->want_read(e.to_client.size() < buffer_bytes);
}

void passthrough::finish(std::size_t conn, exchange& e, bool keep_conn) {
  if (e.framing == proxy::framing::chunked) proxy::write_last_chunk(e.to_client);
  e.ph = exchange::phase::finished;
  use_[conn].reused = true;
  unbind(e, !keep_conn);
  if (keep_conn) conns_[conn]->want_read(true);  // an idle connection notices the upstream closing it
}

void passthrough::unbind(exchange& e, bool close_conn) {
  if (e.conn < 0) return;
  const auto c = static_cast<std::size_t>(e.conn);
  use_[c].ex = -1;
  use_[c].got_bytes = false;
  if (close_conn) {
    conns_[c]->close();
    use_[c].reused = false;
  }
  e.conn = -1;
}

void passthrough::fail(exchange& e, proxy_failure f, std::string_view detail) {
  const bool reused = e.conn >= 0 && use_[static_cast<std::size_t>(e.conn)].reused;
  const bool got = e.conn >= 0 && use_[static_cast<std::size_t>(e.conn)].got_bytes;
  unbind(e, true);
  const std::uint32_t slot = e.slot;
  // A keep-alive connection the upstream closed just as the request went out
  // looks like this; an idempotent request may go once more, on another one.
  const bool stale = reused && !got && (f == proxy_failure::closed || f == proxy_failure::network);
  if (stale && e.idempotent && !e.retried) {
    e.retried = true;
    e.ph = exchange::phase::queued;
    m_.retries.add();
    queue_.push_front(slot);
    return;
  }
  if (f == proxy_failure::connect && e.connect_tries < up_.addrs.size()) {
    e.ph = exchange::phase::queued;  // the next address
    queue_.push_front(slot);
    return;
  }
  m_.failures[static_cast<std::size_t>(f)].add();
  int status = 0;
  if (!e.head_written) {
    const refusal r = f == proxy_failure::timeout        ? refusal::upstream_timeout
                      : f == proxy_failure::bad_response ? refusal::upstream_bad_response
                                                         : refusal::upstream_unavailable;
    std::string text(describe(r).detail);
    if (f != proxy_failure::timeout) text.append(" (").append(proxy_failure_name(f)).append(": ").append(detail).append(")");
    e.to_client.clear();
    write_refusal(e.to_client, r, e.conn_hdr, text);
    status = describe(r).status;
    m_.count(e.mclass, status);
    e.ph = exchange::phase::finished;
  } else {
    e.ph = exchange::phase::aborted;  // the head is out: the client can only see the answer cut short
  }
  log::warn("pass-through failed", {{"shard", shard_}, {"request", e.what}, {"reason", proxy_failure_name(f)},
                                    {"error", detail}, {"answered", status}});
}

deferred_reply::state passthrough::pull(std::uint32_t slot, std::uint32_t gen, std::string& out, std::size_t room) {
  using st = deferred_reply::state;
  if (slot >= ex_.size() || !ex_[slot]->in_use || ex_[slot]->gen != gen) return st::aborted;
  exchange& e = *ex_[slot];
  if (!e.to_client.empty() && room > 0) {
    if (e.to_client.size() <= room) {
      if (out.empty()) out.swap(e.to_client);
      else out.append(e.to_client);
      e.to_client.clear();
    } else {
      out.append(e.to_client, 0, room);
      e.to_client.erase(0, room);
    }
    if (e.conn >= 0) {
      // The client took some: that is progress, and there may be room to read again.
      e.deadline_ms = now_ + opts_.proxy_timeout_ms;
      if (e.to_client.size() < buffer_bytes) conns_[static_cast<std::size_t>(e.conn)]->want_read(true);
    }
  }
  if (!e.to_client.empty()) return st::pending;
  if (e.ph == exchange::phase::finished) return e.close_client ? st::done_close : st::done;
  if (e.ph == exchange::phase::aborted) return st::aborted;
  return st::pending;
}

// The front door let go of the answer (done, or the client went away).
void passthrough::abandon(std::uint32_t slot, std::uint32_t gen) {
  if (slot >= ex_.size() || !ex_[slot]->in_use || ex_[slot]->gen != gen) return;
  exchange& e = *ex_[slot];
  if (e.ph == exchange::phase::upstream) {
    m_.failures[static_cast<std::size_t>(proxy_failure::client_gone)].add();
    unbind(e, true);  // mid-answer: the connection cannot carry another request
  }
  e.in_use = false;
  e.gen = (e.gen + 1) & 0xFFFFFFFFu;
  e.request.clear();
  e.to_client.clear();
  if (e.to_client.capacity() > buffer_bytes * 2) std::string().swap(e.to_client);
  free_ex_.push_back(slot);
  m_.in_flight.add(-1);
}

void passthrough::tick(std::uint64_t now_ms) {
  now_ = now_ms;
  std::int64_t open = 0;
  for (const auto& c : conns_) open += c->closed() ? 0 : 1;
  m_.connections_open.set(open);
  for (std::size_t i = 0; i < ex_.size(); ++i) {
    exchange& e = *ex_[i];
    if (!e.in_use || now_ < e.deadline_ms) continue;
    if (e.ph == exchange::phase::queued || e.ph == exchange::phase::upstream) {
      fail(e, proxy_failure::timeout, "no answer (or no progress) within --proxy-timeout-ms");
    }
  }
  if (!queue_.empty()) dispatch();
}

}  // namespace tg::server
