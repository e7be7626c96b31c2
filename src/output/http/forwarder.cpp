// SPDX-License-Identifier: Apache-2.0
// Dispatch and outcomes of the HTTP output. Batches live in the batch queue
// (ring order, release from the front); what an answer means is the policy's
// (policy.hpp). Links only change state in their completions; poll() takes
// their news, then cuts and sends, once per loop iteration.
#include "tollgate/output/http/forwarder.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <deque>
#include <optional>
#include <stdexcept>

#include "link.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/output/http/backoff.hpp"
#include "tollgate/output/http/batch_queue.hpp"
#include "tollgate/output/http/batch_request.hpp"
#include "tollgate/output/http/dead_letter.hpp"
#include "tollgate/output/http/policy.hpp"
#include "tollgate/output/http/rejection_log.hpp"
#include "tollgate/output/http/resolver.hpp"
#include "tollgate_config.h"

namespace tg::upstream {
namespace {

std::vector<std::pair<sockaddr_storage, socklen_t>> resolve_now(const base_url& url) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(url.port);
  const int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) throw std::runtime_error("cannot resolve upstream host " + url.host + ": " + ::gai_strerror(rc));
  std::vector<std::pair<sockaddr_storage, socklen_t>> out;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    sockaddr_storage ss{};
    std::memcpy(&ss, a->ai_addr, a->ai_addrlen);
    out.emplace_back(ss, static_cast<socklen_t>(a->ai_addrlen));
  }
  ::freeaddrinfo(res);
  return out;
}

// The "detail" of an upstream problem+json body, or the body itself (cut).
std::string upstream_detail(std::string_view body) {
  constexpr std::size_t max_detail = 1024;
  const auto key = body.find("\"detail\"");
  if (key != std::string_view::npos) {
    auto q = body.find('"', body.find(':', key) + 1);
    if (q != std::string_view::npos) {
      std::string out;
      for (std::size_t i = q + 1; i < body.size() && out.size() < max_detail; ++i) {
        if (body[i] == '\\' && i + 1 < body.size()) {
          out += body[++i];
        } else if (body[i] == '"') {
          return out;
        } else {
          out += body[i];
        }
      }
      return out;
    }
  }
  return std::string(body.substr(0, max_detail));
}

}  // namespace

shared::shared(const options& o) : opts(o), token(std::make_shared<const std::string>(o.token)) {
  auto u = parse_base_url(o.url);
  if (!u) throw std::runtime_error("--upstream \"" + o.url + "\": " + u.error());
  url = u.value();
  path = events_path(url);
  if (url.tls) {
    auto ctx = tls_context::create_client(o.ca_file, verify_peer::yes);
    if (!ctx) throw std::runtime_error("TLS set-up failed: " + ctx.error());
    tls = ctx.value();
  }
  addrs = resolve_now(url);
  dead_letters = std::make_unique<dead_letter_file>(o.dead_letter_path);
  dead_letter_fd = dead_letters->fd();
}

shared::~shared() = default;

struct forwarder::impl {
  impl(unsigned shard, const shared& sh, reactor::uring& ring, ring::event_ring& events, probe& m,
       const reactor::component& self)
      : shard(shard), sh(sh), ring(ring), events(events), m(m),
        bo(sh.opts.retry_initial_ms, sh.opts.retry_max_ms, 0x9e3779b97f4a7c15ull ^ (shard * 0x100000001b3ull) ^ monotonic_ms()),
        queue(events, {sh.opts.batch_max_events, sh.opts.batch_max_bytes, sh.opts.linger_ms, sh.opts.max_in_flight}),
        addrs(sh.addrs), token(&sh.token) {
    for (unsigned i = 0; i < sh.opts.max_in_flight; ++i) {
      links.push_back(std::make_unique<link>(i, ring, self, sh.tls.get(), sh.url.host));
    }
    build_head();
  }

  // The request head up to Content-Length's value, with the token in use.
  void build_head() {
    head_token = token.get();
    head_prefix = "POST " + sh.path + " HTTP/1.1\r\nHost: " + sh.url.host_header +
                  "\r\nUser-Agent: tollgate/" TOLLGATE_VERSION
                  "\r\nContent-Type: application/cloudevents-batch+json\r\n";
    if (head_token != nullptr && !head_token->empty()) {
      head_prefix += "Authorization: Bearer " + *head_token + "\r\n";
    }
    head_prefix += "Content-Length: ";
  }

  unsigned shard;
  const shared& sh;
  reactor::uring& ring;
  ring::event_ring& events;
  probe& m;
  backoff bo;
  batch_queue queue;
  std::vector<std::unique_ptr<link>> links;
  std::uint64_t pause_until = 0;    // no new attempt before this (backoff)
  std::uint64_t now = 0;
  std::size_t addr_next = 0;
  std::vector<std::pair<sockaddr_storage, socklen_t>> addrs;
  subscription<std::string> token;  // the upstream token (SIGHUP may replace it)
  const std::string* head_token = nullptr;  // the token head_prefix was built with
  std::string head_prefix;  // request head up to the Content-Length value
  std::string dead;         // dead-letter lines being built
  rejection_log rejections; // dead-lettered ranges, for --ack upstream's answers
  rejection_log refused_ordinals;  // the same by record ordinal, for the spool
  int auth_failures = 0;
  bool closing = false;
  bool news = false;        // a link has news for the next poll
  // Re-resolution after connect failures, off this thread. Made on first need:
  // a healthy upstream never starts the resolver's thread.
  std::unique_ptr<resolver> dns;
  bool resolving = false;
  std::uint64_t last_resolve = 0;
  static constexpr std::uint64_t resolve_every_ms = 1000;
  std::uint64_t last_failure_log = 0;

  void dispatch() {
    if (now < pause_until) return;
    if (m.backing_off.get() != 0) m.backing_off.set(0);
    for (batch& b : queue.batches()) {
      if (b.st != batch::state::queued || b.not_before > now) continue;
      link* l = nullptr;
      for (auto& c : links) {
        if (c->ready()) {
          l = c.get();
          break;
        }
      }
      if (l == nullptr) {
        connect_one();
        return;
      }
      send(b, *l);
    }
  }

  void connect_one() {
    std::size_t opening = 0;
    link* spare = nullptr;
    for (auto& c : links) {
      const auto st = c->current();
      if (st == link::state::connecting || st == link::state::handshaking) ++opening;
      if (st == link::state::closed && spare == nullptr) spare = c.get();
    }
    if (spare == nullptr || opening > 0 || addrs.empty()) return;
    const auto& a = addrs[addr_next++ % addrs.size()];
    m.connects.add();
    spare->connect(a.first, a.second, now + sh.opts.connect_timeout_ms);
    if (spare->has_news()) news = true;  // failed at once (no socket)
  }

  void send(batch& b, link& l) {
    if (token.get() != head_token) build_head();
    // TLS encrypts the events from the ring; a plain socket gets one copy
    // (cheaper for the kernel than a gather write of many small pieces).
    if (l.encrypted()) l.request().build(events, b.begin, b.end, head_prefix, b.body_bytes);
    else l.request().build_joined(events, b.begin, b.end, head_prefix, b.body_bytes);
    b.st = batch::state::inflight;
    ++b.attempts;
    l.batch_id = b.id;
    l.sent_at_ns = monotonic_ns();
    m.batch_events.observe(b.events);
    l.send(now + sh.opts.request_timeout_ms);
  }

  void retry_later(batch& b, std::optional<unsigned> retry_after_ms) {
    b.st = batch::state::queued;
    const unsigned delay = retry_delay_ms(bo, retry_after_ms);
    pause_until = std::max(pause_until, now + delay);
    b.not_before = pause_until;
    m.retries.add();
    m.backing_off.set(1);
  }

  void dead_letter(batch& b, int status, const std::string& detail) {
    dead.clear();
    const timespec when = wall_now();
    ring::event_ring::record rec;
    for (std::uint64_t pos = b.begin; pos != b.end && events.read(pos, rec); pos = rec.next) {
      append_dead_letter(dead, {rec.bytes.data(), rec.bytes.size()}, status, detail, when);
    }
    // Dead letters are rare (poison events), so a plain append on the shard
    // thread is acceptable; O_APPEND keeps lines from several shards whole.
    const char* p = dead.data();
    std::size_t left = dead.size();
    while (left > 0) {
      const ssize_t w = ::write(sh.dead_letter_fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        // Keep the events rather than lose them: try again later.
        log::error("cannot write the dead-letter file; events are kept", {{"error", std::strerror(errno)}});
        retry_later(b, std::nullopt);
        return;
      }
      p += w;
      left -= static_cast<std::size_t>(w);
    }
    log::warn("upstream rejected events; written to the dead-letter file",
              {{"shard", shard}, {"events", b.events}, {"status", status}, {"detail", detail}});
    m.events_dead_lettered.add(b.events);
    rejections.add(b.begin, b.end, b.events, status, detail);
    // Its records' ordinals: those released so far, then every record of the
    // batches before it (the queue holds what is not released, in ring order).
    std::uint64_t first = queue.released();
    for (const batch& x : queue.batches()) {
      if (&x == &b) break;
      first += x.events;
    }
    refused_ordinals.add(first, first + b.events, b.events, status, detail);
    b.st = batch::state::done;
  }

  void count_status(int status) {
    const std::size_t i = metrics::status_index(status);
    if (metrics::statuses[i] == status) m.outcomes[i].add();
    else m.unknown_status[(status / 100) % 6].add();
  }

  // The address may have moved (a new load balancer, a failover): ask again,
  // at most once a second, and use the answer for the next connects.
  void re_resolve() {
    if (resolving || (last_resolve != 0 && now - last_resolve < resolve_every_ms)) return;
    try {
      if (!dns) dns = std::make_unique<resolver>();
    } catch (const std::exception& e) {
      log::warn("cannot start the resolver thread; keeping the addresses from start-up", {{"error", e.what()}});
      return;
    }
    dns->request(sh.url.host, sh.url.port);
    resolving = true;
    last_resolve = now;
  }

  void poll_resolver() {
    if (!resolving) return;
    resolution r;
    while (dns->poll(r)) {
      resolving = false;
      if (!r.ok()) {
        log::warn("upstream host name did not resolve; keeping the last addresses",
                  {{"shard", shard}, {"host", sh.url.host}, {"error", r.error}});
        continue;
      }
      addrs.clear();
      for (const resolved_address& a : r.addresses) addrs.emplace_back(a.addr, a.len);
      addr_next = 0;
    }
  }

  void on_response(const link_news& n) {
    batch* b = queue.find(n.batch_id);
    count_status(n.status);
    m.latency_seconds.observe(static_cast<double>(monotonic_ns() - n.sent_at_ns) / 1e9);
    if (b == nullptr) return;
    const int s = n.status;
    switch (judge(s, b->events)) {
      case verdict::delivered:
        b->st = batch::state::done;
        m.events_delivered.add(b->events);
        bo.reset();
        pause_until = 0;
        if (auth_failures > 0) log::info("upstream accepts the token again", {{"shard", shard}});
        auth_failures = 0;
        break;
      case verdict::split:
        queue.split(*b, now);
        m.splits.add();
        break;
      case verdict::dead_letter: dead_letter(*b, s, upstream_detail(n.body)); break;
      case verdict::auth:
        if (auth_failures++ == 0 || now - last_failure_log > 10000) {
          log::error("upstream rejected the token; events are kept and retried. Fix --upstream-token-file "
                     "and send SIGHUP, or fix OPENMETER_TOKEN / --upstream-token and restart tollgate",
                     {{"shard", shard}, {"status", s}, {"detail", upstream_detail(n.body)}});
          last_failure_log = now;
        }
        retry_later(*b, std::nullopt);
        break;
      case verdict::retry: {
        std::optional<unsigned> ra;
        if (n.retry_after) ra = parse_retry_after_ms(*n.retry_after, ::time(nullptr));
        retry_later(*b, ra);
        break;
      }
    }
  }

  void on_failure(const link_news& n) {
    const failure f = n.why;
    if (f == failure::connect || f == failure::tls) m.connect_failures.add();
    // An upstream closing an idle keep-alive connection is routine: nothing
    // was lost and the next batch opens a new one.
    const bool routine = f == failure::closed && !n.had_request;
    if (routine) {
      log::debug("upstream closed an idle connection", {{"shard", shard}, {"detail", n.detail}});
    } else if (now - last_failure_log > 10000 || last_failure_log == 0) {
      log::warn("upstream link failed; retrying with backoff",
                {{"shard", shard}, {"reason", failure_name(f)}, {"detail", n.detail}});
      last_failure_log = now;
    }
    if ((f == failure::connect || f == failure::timeout) && !n.had_request) re_resolve();
    if (n.had_request) {
      m.outcomes[f == failure::timeout ? outcome_timeout : outcome_network_error].add();
      if (batch* b = queue.find(n.batch_id)) retry_later(*b, std::nullopt);
    } else if (f == failure::connect || f == failure::tls || f == failure::timeout) {
      // Nothing in flight, but the upstream is unreachable: back off anyway.
      pause_until = std::max(pause_until, now + bo.next_delay_ms());
      m.backing_off.set(1);
    }
  }

  void take_news() {
    news = false;
    for (auto& l : links) {
      if (!l->has_news()) continue;
      for (const link_news& n : l->news()) {
        if (n.what == link_news::kind::response) on_response(n);
        else on_failure(n);
      }
      l->news().clear();
    }
  }
};

forwarder::forwarder(unsigned shard, const shared& sh, reactor::uring& ring, ring::event_ring& events, probe& counters)
    : impl_(std::make_unique<impl>(shard, sh, ring, events, counters, *this)) {}

forwarder::~forwarder() = default;

void forwarder::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (t.slot >= impl_->links.size()) return;
  link& l = *impl_->links[t.slot];
  l.on_cqe(t, cqe);
  if (l.has_news()) impl_->news = true;
}

void forwarder::poll(std::uint64_t now_ms) {
  impl& f = *impl_;
  f.now = now_ms;
  f.rejections.prune(f.events.read_begin());
  f.refused_ordinals.prune(f.queue.released());
  if (f.closing) return;
  if (f.news) {
    f.take_news();
    f.queue.release_done();
  }
  f.queue.cut(now_ms);
  // A link that failed at once (no socket) left news: wakeup_in_us() makes
  // the next iteration immediate, and it is taken there.
  f.dispatch();
}

void forwarder::tick(std::uint64_t now_ms) {
  impl& f = *impl_;
  f.now = now_ms;
  f.poll_resolver();
  for (auto& l : f.links) {
    l->check_deadline(now_ms);
    if (l->has_news()) f.news = true;
  }
  f.queue.release_done();
}

long forwarder::wakeup_in_us(std::uint64_t now_ms) const {
  const impl& f = *impl_;
  if (f.news) return 0;
  long best = -1;
  auto consider = [&](std::uint64_t at) {
    const long in = at > now_ms ? static_cast<long>(at - now_ms) * 1000 : 0;
    if (best < 0 || in < best) best = in;
  };
  // Linger only matters while a batch could be cut; otherwise the next
  // completion (a response, a connect) is what lets the forwarder go on, and
  // waking for the linger would spin.
  if (f.queue.pending_since() != 0 && f.queue.can_cut()) consider(f.queue.pending_since() + f.sh.opts.linger_ms);
  if (f.pause_until > now_ms) consider(f.pause_until);
  return best;
}

std::uint64_t forwarder::records_released() const { return impl_->queue.released(); }

void forwarder::rejected_ordinals(std::uint64_t from, std::uint64_t to, const refused_run& f) const {
  impl_->refused_ordinals.each(from, to, f);
}

std::optional<output::rejection> forwarder::rejected(std::uint64_t begin, std::uint64_t end) const {
  return impl_->rejections.find(begin, end);
}

bool forwarder::idle() const { return impl_->queue.empty() && impl_->events.empty(); }

std::uint64_t forwarder::events_left() const {
  std::uint64_t n = 0;
  ring::event_ring::record rec;
  for (std::uint64_t pos = impl_->events.read_begin(); impl_->events.read(pos, rec); pos = rec.next) ++n;
  return n;
}

void forwarder::close() {
  impl_->closing = true;
  for (auto& l : impl_->links) {
    if (!l->closed()) l->fail(failure::closed, "shutting down");
  }
}

backend::backend(const options& opts) : sh_(opts) {}

backend::~backend() = default;

void backend::set_token(std::string t) { sh_.token.publish(std::make_shared<const std::string>(std::move(t))); }

std::string backend::describe() const { return (sh_.url.tls ? "https://" : "http://") + sh_.url.host_header; }

void backend::prepare(unsigned shards) {
  probes_.clear();
  views_.clear();
  for (unsigned i = 0; i < shards; ++i) {
    probes_.push_back(std::make_unique<probe>());
    views_.push_back(probes_.back().get());
  }
}

std::unique_ptr<output::shard_output> backend::make_shard(unsigned shard, reactor::uring& ring,
                                                          ring::event_ring& events) {
  return std::make_unique<forwarder>(shard, sh_, ring, events, *probes_.at(shard));
}

void backend::render_metrics(std::string& out) const { tg::upstream::render_metrics(views_, out); }

void backend::render_status(unsigned shard, std::uint64_t events_accepted, std::string& out) const {
  tg::upstream::render_status(*probes_.at(shard), events_accepted, out);
}

std::optional<std::uint64_t> backend::events_done(unsigned shard) const {
  const probe& p = *probes_.at(shard);
  return p.events_delivered.get() + p.events_dead_lettered.get();
}

}  // namespace tg::upstream
