// SPDX-License-Identifier: Apache-2.0
// Batching, dispatch and outcomes. Batches are kept in ring order in a deque;
// ring space is released only from the front, once every batch before a
// position is done (delivered or dead-lettered), because the ring frees in
// order. Splitting a batch after a 400 replaces it in place by its halves.
#include "tollgate/upstream/forwarder.hpp"

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
#include "tollgate/upstream/backoff.hpp"
#include "tollgate/upstream/batch_request.hpp"
#include "tollgate/upstream/dead_letter.hpp"
#include "tollgate/upstream/resolver.hpp"
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

shared::shared(const options& o) : opts(o) {
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

namespace {
struct batch {
  enum class state : std::uint8_t { queued, inflight, done };
  std::uint64_t id = 0;
  std::uint64_t begin = 0;  // ring position of the first record
  std::uint64_t end = 0;    // ring position after the last record
  std::uint32_t events = 0;
  std::size_t body_bytes = 0;  // the JSON array's size; 0 after a split (measured when sent)
  state st = state::queued;
  std::uint64_t not_before = 0;
  unsigned attempts = 0;
};
}  // namespace

constexpr std::size_t prefetch_ahead = 2048;

struct forwarder::impl final : link_owner {
  impl(unsigned shard, const shared& sh, reactor::uring& ring, ring::event_ring& events, metrics::upstream_metrics& m)
      : shard(shard), sh(sh), ring(ring), events(events), m(m),
        bo(sh.opts.retry_initial_ms, sh.opts.retry_max_ms, 0x9e3779b97f4a7c15ull ^ (shard * 0x100000001b3ull) ^ monotonic_ms()),
        cursor(events.read_begin()), scan_pos(cursor), addrs(sh.addrs) {
    for (unsigned i = 0; i < sh.opts.max_in_flight; ++i) {
      links.push_back(std::make_unique<link>(i, ring, *this, sh.tls.get(), sh.url.host));
    }
    head_prefix = "POST " + sh.path + " HTTP/1.1\r\nHost: " + sh.url.host_header +
                  "\r\nUser-Agent: tollgate/" TOLLGATE_VERSION
                  "\r\nContent-Type: application/cloudevents-batch+json\r\n";
    if (!sh.opts.token.empty()) head_prefix += "Authorization: Bearer " + sh.opts.token + "\r\n";
    head_prefix += "Content-Length: ";
  }

  unsigned shard;
  const shared& sh;
  reactor::uring& ring;
  ring::event_ring& events;
  metrics::upstream_metrics& m;
  backoff bo;
  std::vector<std::unique_ptr<link>> links;
  std::deque<batch> batches;
  std::uint64_t cursor;             // ring position of the first record not yet in a batch
  std::uint64_t scan_pos;           // how far the unbatched records have been measured
  std::uint32_t scan_n = 0;         // records in [cursor, scan_pos)
  std::size_t scan_bytes = 2;       // their JSON array size, "[" and "]" included
  bool scan_full = false;           // [cursor, scan_pos) is a full batch
  std::uint64_t pending_since = 0;  // when unbatched events were first seen waiting
  std::uint64_t next_id = 1;
  std::uint64_t released = 0;       // records freed from the ring, ever
  std::uint64_t pause_until = 0;    // no new attempt before this (backoff)
  std::uint64_t now = 0;
  std::size_t addr_next = 0;
  std::vector<std::pair<sockaddr_storage, socklen_t>> addrs;
  std::string head_prefix;  // request head up to the Content-Length value
  std::string request;      // request being built (buffers rotate through the links)
  std::string dead;         // dead-letter lines being built
  int auth_failures = 0;
  bool closing = false;
  // Re-resolution after connect failures, off this thread. Made on first need:
  // a healthy upstream never starts the resolver's thread.
  std::unique_ptr<resolver> dns;
  bool resolving = false;
  std::uint64_t last_resolve = 0;
  static constexpr std::uint64_t resolve_every_ms = 1000;
  std::uint64_t last_failure_log = 0;

  batch* find(std::uint64_t id) {
    for (batch& b : batches) {
      if (b.id == id) return &b;
    }
    return nullptr;
  }

  // A new batch is cut only when every cut one is on its way and a link is
  // free for it: send what is cut before cutting more.
  bool can_cut() const {
    std::size_t busy = 0;
    for (const batch& b : batches) {
      if (b.st == batch::state::queued) return false;
      if (b.st == batch::state::inflight) ++busy;
    }
    return busy < sh.opts.max_in_flight;
  }

  // Cuts the next batch once it is full or its oldest event has lingered.
  // The scan of unbatched records resumes where the last poll stopped: polls
  // come once per loop iteration, and re-walking up to a batch's worth of
  // records each time showed up as the top symbol in profiles.
  void form() {
    if (!can_cut()) return;
    ring::event_ring::record rec;
    while (!scan_full && events.read(scan_pos, rec)) {
      // Records lie one after the other: ask for the lines a few records ahead
      // now, so the header chase below does not wait on each miss in turn.
      __builtin_prefetch(rec.bytes.data() + prefetch_ahead);
      const std::size_t add = rec.bytes.size() + (scan_n > 0 ? 1 : 0);
      if (scan_n > 0 && scan_bytes + add > sh.opts.batch_max_bytes) {
        scan_full = true;
        break;
      }
      scan_bytes += add;
      scan_pos = rec.next;
      if (++scan_n == sh.opts.batch_max_events) scan_full = true;
    }
    if (scan_n == 0) {
      pending_since = 0;
      return;
    }
    if (pending_since == 0) pending_since = now;
    if (!scan_full && now - pending_since < sh.opts.linger_ms) return;
    batches.push_back({next_id++, cursor, scan_pos, scan_n, scan_bytes, batch::state::queued, 0, 0});
    cursor = scan_pos;
    scan_n = 0;
    scan_bytes = 2;
    scan_full = false;
    pending_since = events.read(cursor, rec) ? now : 0;
    // dispatch sends it; the next poll cuts the next one
  }

  void dispatch() {
    if (now < pause_until) return;
    if (m.backing_off.get() != 0) m.backing_off.set(0);
    for (batch& b : batches) {
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
  }

  void send(batch& b, link& l) {
    build_batch_request(events, b.begin, b.end, head_prefix, request, b.body_bytes);
    b.st = batch::state::inflight;
    ++b.attempts;
    l.batch_id = b.id;
    l.sent_at_ns = monotonic_ns();
    m.batch_events.observe(b.events);
    l.send(request, now + sh.opts.request_timeout_ms);
  }

  void retry_later(batch& b, std::optional<unsigned> retry_after_ms) {
    b.st = batch::state::queued;
    const unsigned delay = retry_delay_ms(bo, retry_after_ms);
    pause_until = std::max(pause_until, now + delay);
    b.not_before = pause_until;
    m.retries.add();
    m.backing_off.set(1);
  }

  void split(batch& b) {
    const std::uint32_t half = b.events / 2;
    ring::event_ring::record rec;
    std::uint64_t mid = b.begin;
    for (std::uint32_t i = 0; i < half && events.read(mid, rec); ++i) mid = rec.next;
    batch second{next_id++, mid, b.end, b.events - half, 0, batch::state::queued, now, 0};
    b.end = mid;
    b.events = half;
    b.body_bytes = 0;
    b.st = batch::state::queued;
    b.not_before = now;
    for (auto it = batches.begin(); it != batches.end(); ++it) {
      if (it->id == b.id) {
        batches.insert(it + 1, second);
        break;
      }
    }
    m.splits.add();
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
    b.st = batch::state::done;
  }

  void release_done() {
    while (!batches.empty() && batches.front().st == batch::state::done) {
      events.release(batches.front().end);
      released += batches.front().events;
      batches.pop_front();
    }
  }

  void count_status(int status) {
    const std::size_t i = metrics::status_index(status);
    if (metrics::statuses[i] == status) m.outcomes[i].add();
    else m.unknown_status[(status / 100) % 6].add();
  }

  void link_ready(link&) override { dispatch(); }

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

  void link_response(link& l, const http::response& r) override {
    batch* b = find(l.batch_id);
    l.batch_id = 0;
    count_status(r.status);
    m.latency_seconds.observe(static_cast<double>(monotonic_ns() - l.sent_at_ns) / 1e9);
    if (b == nullptr) return;
    const int s = r.status;
    if (s >= 200 && s < 300) {
      b->st = batch::state::done;
      m.events_delivered.add(b->events);
      bo.reset();
      pause_until = 0;
      if (auth_failures > 0) log::info("upstream accepts the token again", {{"shard", shard}});
      auth_failures = 0;
    } else if (s == 400 || s == 413) {
      // One bad event must not sink the others: halve until it stands alone.
      if (b->events > 1) split(*b);
      else dead_letter(*b, s, upstream_detail(r.body));
    } else if (s == 401 || s == 403) {
      // A configuration error, not the events' fault: keep them.
      if (auth_failures++ == 0 || now - last_failure_log > 10000) {
        log::error("upstream rejected the token; events are kept and retried. Fix OPENMETER_TOKEN / "
                   "--upstream-token and restart tollgate",
                   {{"shard", shard}, {"status", s}, {"detail", upstream_detail(r.body)}});
        last_failure_log = now;
      }
      retry_later(*b, std::nullopt);
    } else if (s == 408 || s == 429 || s >= 500) {
      std::optional<unsigned> ra;
      if (r.has_retry_after) ra = parse_retry_after_ms(r.retry_after, ::time(nullptr));
      retry_later(*b, ra);
    } else if (s >= 400) {
      dead_letter(*b, s, upstream_detail(r.body));
    } else {
      retry_later(*b, std::nullopt);  // 1xx/3xx: nothing we can act on
    }
    release_done();
    dispatch();
  }

  void link_failed(link& l, failure f, std::string_view why, bool had_request) override {
    if (closing) return;  // shutdown closes the links on purpose
    if (f == failure::connect || f == failure::tls) m.connect_failures.add();
    if (now - last_failure_log > 10000 || last_failure_log == 0) {
      log::warn("upstream link failed; retrying with backoff",
                {{"shard", shard}, {"reason", failure_name(f)}, {"detail", why}});
      last_failure_log = now;
    }
    if ((f == failure::connect || f == failure::timeout) && !had_request) re_resolve();
    if (had_request) {
      m.outcomes[f == failure::timeout ? metrics::upstream_timeout : metrics::upstream_network_error].add();
      if (batch* b = find(l.batch_id)) retry_later(*b, std::nullopt);
      l.batch_id = 0;
    } else if (f == failure::connect || f == failure::tls || f == failure::timeout) {
      // Nothing in flight, but the upstream is unreachable: back off anyway.
      pause_until = std::max(pause_until, now + bo.next_delay_ms());
      m.backing_off.set(1);
    }
  }
};

forwarder::forwarder(unsigned shard, const shared& sh, reactor::uring& ring, ring::event_ring& events,
                     metrics::upstream_metrics& counters)
    : impl_(std::make_unique<impl>(shard, sh, ring, events, counters)) {}

forwarder::~forwarder() = default;

void forwarder::on_cqe(const reactor::tag& t, const io_uring_cqe& cqe) {
  if (t.slot >= impl_->links.size()) return;
  link& l = *impl_->links[t.slot];
  impl_->now = monotonic_ms();
  l.on_cqe(t, cqe);
}

void forwarder::poll(std::uint64_t now_ms) {
  impl_->now = now_ms;
  impl_->form();
  impl_->dispatch();
}

void forwarder::tick(std::uint64_t now_ms) {
  impl_->now = now_ms;
  impl_->poll_resolver();
  for (auto& l : impl_->links) l->check_deadline(now_ms);
  impl_->release_done();
}

int forwarder::wakeup_in_ms(std::uint64_t now_ms) const {
  int best = -1;
  auto consider = [&](std::uint64_t at) {
    const int in = at > now_ms ? static_cast<int>(at - now_ms) : 0;
    if (best < 0 || in < best) best = in;
  };
  // Linger only matters while a batch could be cut; otherwise the next
  // completion (a response, a connect) is what lets the forwarder go on, and
  // waking for the linger would spin.
  if (impl_->pending_since != 0 && impl_->can_cut()) consider(impl_->pending_since + impl_->sh.opts.linger_ms);
  if (impl_->pause_until > now_ms) consider(impl_->pause_until);
  return best;
}

std::uint64_t forwarder::records_released() const { return impl_->released; }

bool forwarder::idle() const { return impl_->batches.empty() && impl_->events.empty(); }

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

}  // namespace tg::upstream
