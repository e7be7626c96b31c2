// SPDX-License-Identifier: Apache-2.0
// Process lifecycle. Shard threads are pinned one per CPU of the affinity mask
// (wrapping around when there are more shards than CPUs). The main thread only
// waits for a signal, then flips the stop flag that every shard reads on its
// next tick, joins them, and lets the output drain what is left.
#include "tollgate/server/gateway.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <exception>
#include <memory>
#include <thread>

#include "gatekeeper.hpp"
#include "ingest_handler.hpp"
#include "listener.hpp"
#include "tollgate/base/clock.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/mapping/routes.hpp"
#include "tollgate/output/http/tls_session.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/server/shard.hpp"
#include "tollgate/spool/format.hpp"
#include "tollgate/spool/layout.hpp"

namespace tg::server {

void block_stop_signals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

std::vector<int> affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int i = 0; i < CPU_SETSIZE; ++i) {
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

std::unique_ptr<request_handler> make_ingest_handler(const shard_resources& r) {
  return std::make_unique<gatekeeper>(std::make_unique<ingest_handler>(r.opts, r.ring, r.counters, r.process, r.spool),
                                      r.opts, r.counters, r.process.tokens, r.process.routes);
}

namespace {
spool::driver_options make_spool_options(const options& opts, std::uint64_t shard_max_bytes) {
  spool::driver_options s;
  s.dir = opts.spool_dir;
  s.segment_bytes = opts.segment_bytes;
  s.max_bytes = shard_max_bytes;
  s.sync_max_delay_us = opts.sync_max_delay_us;
  s.durable = opts.ack == ack_mode::durable;
  // An event is at most the whole body, plus the time tollgate may stamp in.
  s.max_payload = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(opts.limits.max_body_bytes + 64, spool::max_payload_limit));
  // Each of the writer's two buffers holds the largest request (every event
  // framed): one is appended to while the other is being written.
  s.writer_buffer_bytes = opts.limits.max_body_bytes + opts.validation.max_events * 64 + (1u << 20);
  return s;
}

std::string read_file(const std::string& flag, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error(flag + " " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[8192];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) throw std::runtime_error(flag + " " + path + ": read error");
  return text;
}

// --mappings, parsed. Throws std::invalid_argument naming the route and the
// field. A route may not take a path tollgate serves itself: its own
// endpoints and everything under /api/ (ingest and the pass-through).
std::shared_ptr<const mapping::route_table> load_routes(const std::string& path) {
  const mapping::route_limits limits;
  const std::string text = read_file("--mappings", path);
  if (text.size() > limits.max_file_bytes) {
    throw std::invalid_argument("--mappings " + path + ": larger than " + std::to_string(limits.max_file_bytes) +
                                " bytes");
  }
  auto r = mapping::parse_routes(text, limits);
  if (!r) throw std::invalid_argument("--mappings " + path + ": " + r.error());
  for (std::string_view p : r->paths()) {
    if (p.starts_with("/api/") || p == "/healthz" || p == "/readyz" || p == "/metrics" || p == "/status" ||
        p == "/status.json") {
      throw std::invalid_argument("--mappings " + path + ": route " + std::string(p) +
                                  ": path is one tollgate serves itself (its endpoints and /api/)");
    }
  }
  return std::make_shared<const mapping::route_table>(std::move(*r));
}

// --ingest-tokens-file, parsed, each client given its registry slot. Throws
// with the file and the line; never with a token.
std::shared_ptr<const ingest_tokens> load_tokens(const std::string& path, client_registry& clients) {
  auto t = token_table::parse(read_file("--ingest-tokens-file", path));
  if (!t) throw std::invalid_argument("--ingest-tokens-file " + path + ": " + t.error());
  auto out = std::make_shared<ingest_tokens>();
  out->table = std::move(t.value());
  for (const std::string& name : out->table.names()) out->slots.push_back(clients.intern(name));
  return out;
}

std::shared_ptr<const upstream::tls_context> load_tls(const options& o) {
  auto ctx = upstream::tls_context::create_listener(o.tls_cert, o.tls_key, o.tls_client_ca);
  if (!ctx) throw std::invalid_argument("--tls-cert / --tls-key: " + ctx.error());
  return ctx.value();
}

// --spool-max-bytes 0: 80% of what the spool's file system has free now.
std::uint64_t default_spool_bytes(const std::string& dir) {
  struct statvfs fs{};
  if (::statvfs(dir.c_str(), &fs) != 0) {
    throw std::runtime_error("spool: cannot stat the file system of " + dir + ": " + std::strerror(errno));
  }
  const double free_bytes = static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize);
  return static_cast<std::uint64_t>(free_bytes * 0.8);
}
}  // namespace

struct gateway::impl {
  options opts;
  output::backend* out = nullptr;
  handler_factory make_handler;
  std::vector<int> listen_fds;
  unsigned short port = 0;
  process_state process;
  std::vector<std::unique_ptr<ring::event_ring>> rings;
  std::vector<std::unique_ptr<probe>> counters;
  std::vector<std::unique_ptr<spool::probe>> spool_probes;  // with --spool-dir, one per shard
  std::vector<std::unique_ptr<spool::driver>> spools;       // with --spool-dir, one per shard
  std::function<void()> reload;
  const upstream::shared* api = nullptr;                    // the pass-through's upstream, or null
  std::vector<std::unique_ptr<proxy_probe>> proxy_probes;  // with a pass-through, one per shard
  client_registry clients;
  std::unique_ptr<published<ingest_tokens>> tokens;         // --ingest-tokens-file
  std::unique_ptr<published<upstream::tls_context>> tls;    // --tls-cert
  std::unique_ptr<published<mapping::route_table>> routes;  // --mappings

  void open_spools();
  void open_front_door();
  void reload_front_door();
};

// The tokens file and the listener's certificate, read before anything is
// served: a bad file fails the start (exit 2, naming the line).
void gateway::impl::open_front_door() {
  process.clients = &clients;
  if (!opts.ingest_tokens_file.empty()) {
    tokens = std::make_unique<published<ingest_tokens>>(load_tokens(opts.ingest_tokens_file, clients));
    process.tokens = tokens.get();
  }
  if (!opts.mappings_file.empty()) {
    routes = std::make_unique<published<mapping::route_table>>(load_routes(opts.mappings_file));
    process.routes = routes.get();
    log::info("mapping routes", {{"file", opts.mappings_file}, {"routes", static_cast<unsigned long>(routes->get()->size())}});
  }
  if (opts.tls_cert.empty() != opts.tls_key.empty()) throw std::invalid_argument("--tls-cert and --tls-key go together");
  if (!opts.tls_client_ca.empty() && opts.tls_cert.empty()) throw std::invalid_argument("--tls-client-ca needs --tls-cert");
  if (!opts.tls_cert.empty()) {
    tls = std::make_unique<published<upstream::tls_context>>(load_tls(opts));
    process.tls = tls.get();
    log::info("TLS on the listener", {{"certificate", opts.tls_cert},
                                      {"client_certificates", opts.tls_client_ca.empty() ? "not asked" : "required"}});
  }
}

// SIGHUP: each file is read whole and published only if it is good; a bad one
// keeps what is in use and says why. New connections (TLS) and the next
// request (tokens) on each shard use what was published; open connections
// keep the certificate they started with.
void gateway::impl::reload_front_door() {
  if (tokens) {
    try {
      auto t = load_tokens(opts.ingest_tokens_file, clients);
      const std::size_t n = t->table.size();
      tokens->publish(std::move(t));
      log::info("reloaded --ingest-tokens-file", {{"path", opts.ingest_tokens_file}, {"tokens", n}});
    } catch (const std::exception& e) {
      log::error("reload of --ingest-tokens-file failed; keeping the tokens in use", {{"error", e.what()}});
    }
  }
  if (routes) {
    try {
      auto r = load_routes(opts.mappings_file);
      const std::size_t n = r->size();
      routes->publish(std::move(r));
      log::info("reloaded --mappings", {{"file", opts.mappings_file}, {"routes", static_cast<unsigned long>(n)}});
    } catch (const std::exception& e) {
      log::error("reload of --mappings failed; keeping the routes in use", {{"error", e.what()}});
    }
  }
  if (tls) {
    try {
      tls->publish(load_tls(opts));
      log::info("reloaded --tls-cert and --tls-key", {{"certificate", opts.tls_cert}});
    } catch (const std::exception& e) {
      log::error("reload of the TLS certificate failed; keeping the one in use", {{"error", e.what()}});
    }
  }
}

// Recovery of every directory under --spool-dir; old shard directories (a
// different --shards before) are replayed by shard old_id % shards.
void gateway::impl::open_spools() {
  if (::mkdir(opts.spool_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    throw std::runtime_error("spool: cannot create " + opts.spool_dir + ": " + std::strerror(errno));
  }
  const std::uint64_t total = opts.spool_max_bytes != 0 ? opts.spool_max_bytes : default_spool_bytes(opts.spool_dir);
  const std::uint64_t per_shard = std::max<std::uint64_t>(total / opts.shards, 1);
  auto ids = spool::list_shard_dirs(opts.spool_dir);
  if (!ids) throw std::runtime_error("spool: cannot list " + opts.spool_dir + ": " + std::strerror(ids.error().sys));
  const auto assigned = spool::assign_dirs(*ids, opts.shards);
  const spool::driver_options settings = make_spool_options(opts, per_shard);
  for (unsigned i = 0; i < opts.shards; ++i) {
    spool_probes.push_back(std::make_unique<spool::probe>());
    process.spool_probes.push_back(spool_probes.back().get());
    spools.push_back(std::make_unique<spool::driver>(i, assigned[i], settings, *rings[i], *spool_probes.back()));
  }
  process.spool_shard_max_bytes = per_shard;
  log::info("spool", {{"directory", opts.spool_dir}, {"max_bytes", total}, {"max_bytes_per_shard", per_shard},
                      {"ack", opts.ack == ack_mode::durable ? "durable" : opts.ack == ack_mode::upstream ? "upstream" : "buffered"},
                      {"segment_bytes", opts.segment_bytes}});
}

gateway::gateway(const options& opts, output::backend* out, handler_factory make_handler) : impl_(new impl) {
  // impl_ is a raw pointer (the header hides impl), and a constructor that
  // throws never runs its destructor: release by hand on a start-up error
  // (bad --listen, port in use), or every failed start leaks.
  try {
    impl_->opts = opts;
    impl_->out = out;
    impl_->make_handler = std::move(make_handler);
    if (impl_->opts.shards == 0) impl_->opts.shards = static_cast<unsigned>(affinity_cpus().size());
    impl_->open_front_door();
    impl_->listen_fds = bind_listeners(opts.listen, impl_->opts.shards, impl_->port);
    for (unsigned i = 0; i < impl_->opts.shards; ++i) {
      impl_->rings.push_back(std::make_unique<ring::event_ring>(opts.buffer_bytes));
      impl_->counters.push_back(std::make_unique<probe>());
      impl_->process.rings.push_back(impl_->rings.back().get());
      impl_->process.probes.push_back(impl_->counters.back().get());
    }
    if (out != nullptr) out->prepare(impl_->opts.shards);
    if (!opts.spool_dir.empty()) {
      if (out == nullptr || !out->confirms_delivery()) {
        throw std::invalid_argument("--spool-dir needs an http(s):// upstream");
      }
      impl_->open_spools();
    }
  } catch (...) {
    for (int fd : impl_->listen_fds) {
      if (fd >= 0) ::close(fd);
    }
    delete impl_;
    throw;
  }
  impl_->process.output = out;
  const timespec t = wall_now();
  impl_->process.start_time_seconds = static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

gateway::~gateway() {
  for (int fd : impl_->listen_fds) {
    if (fd >= 0) ::close(fd);
  }
  delete impl_;
}

unsigned short gateway::port() const { return impl_->port; }
void gateway::on_reload(std::function<void()> hook) { impl_->reload = std::move(hook); }

void gateway::pass_through_to(const upstream::shared& up) {
  impl& g = *impl_;
  if (g.opts.proxy == proxy_mode::off || g.api != nullptr) return;
  g.api = &up;
  for (unsigned i = 0; i < g.opts.shards; ++i) {
    g.proxy_probes.push_back(std::make_unique<proxy_probe>());
    g.process.proxy_probes.push_back(g.proxy_probes.back().get());
  }
}
unsigned gateway::shard_count() const { return impl_->opts.shards; }

run_report gateway::run() {
  impl& g = *impl_;
  if (g.out != nullptr) g.out->start(g.process.rings);

  const std::vector<int> cpus = affinity_cpus();
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<shard>> shards;
  std::vector<std::exception_ptr> failures(g.opts.shards);
  std::atomic<unsigned> failed{0};
  for (unsigned i = 0; i < g.opts.shards; ++i) {
    spool::driver* sp = g.spools.empty() ? nullptr : g.spools[i].get();
    auto handler = g.make_handler({i, g.opts, *g.rings[i], *g.counters[i], g.process, sp});
    const pass_through_parts pass{g.api, g.api != nullptr ? g.proxy_probes[i].get() : nullptr};
    shards.push_back(std::make_unique<shard>(i, g.opts, g.listen_fds[i], *g.rings[i], *g.counters[i], g.process,
                                             std::move(handler), g.out, sp, pass));
    g.listen_fds[i] = -1;  // the shard owns it now
  }
  // The threads start once every shard is built: a thread that read
  // shards[i] while a later push_back moved the vector read freed memory
  // (a garbage uring size, so "io_uring is not usable", about one start in 200).
  for (unsigned i = 0; i < g.opts.shards; ++i) {
    threads.emplace_back([&failures, &failed, &g, &s = *shards[i], i] {
      try {
        s.run();
      } catch (...) {
        failures[i] = std::current_exception();
        failed.fetch_add(1);
        g.process.stopping.store(true);
        ::kill(::getpid(), SIGTERM);  // wake the main thread
      }
    });
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[i % cpus.size()], &set);
    ::pthread_setaffinity_np(threads.back().native_handle(), sizeof set, &set);
  }
  log::info("listening", {{"address", g.opts.listen}, {"port", static_cast<unsigned>(g.port)},
                          {"shards", g.opts.shards},
                          {"output", g.out != nullptr ? g.out->describe() : std::string("none")}});

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  int sig = 0;
  for (;;) {
    ::sigwait(&set, &sig);
    if (sig != SIGHUP || failed.load() != 0) break;
    log::info("SIGHUP: reloading configuration files", {});
    g.reload_front_door();
    if (g.reload) {
      try {
        g.reload();
      } catch (const std::exception& e) {
        log::error("reload failed; keeping the configuration in use", {{"error", e.what()}});
      }
    }
  }
  if (failed.load() == 0) {
    log::info("stopping: finishing requests in progress", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  }
  const std::uint64_t deadline = monotonic_ms() + g.opts.drain_timeout_ms;
  g.process.stopping.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  run_report report;
  report.events_left = g.process.events_left.load() + (g.out != nullptr ? g.out->stop(deadline) : 0);
  for (auto& f : failures) {
    if (f) std::rethrow_exception(f);
  }
  return report;
}

}  // namespace tg::server
