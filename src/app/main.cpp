// SPDX-License-Identifier: Apache-2.0
// tollgate's entry point: parse flags, block the stop signals in every thread
// (the gateway waits for them with sigwait), run, and turn start-up exceptions
// into one log line and an exit status.
#ifdef TOLLGATE_MIMALLOC
#include <mimalloc.h>
#endif

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tollgate/base/log.hpp"
#include "tollgate/config/flags.hpp"
#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/output/jsonl/writer.hpp"
#include "tollgate/output/kafka/backend.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/server/gateway.hpp"
#include "tollgate_config.h"

namespace {
std::string allocator_name() {
#ifdef TOLLGATE_MIMALLOC
  return "mimalloc " + std::to_string(mi_version());
#else
  return "system";  // sanitizer builds: ASan must own malloc
#endif
}
}  // namespace

int main(int argc, char** argv) {
  using namespace tg;
#ifdef TOLLGATE_MIMALLOC
  // mimalloc returns a free span to the kernel only after a delay, and only
  // when it is next called: a shard idle after a burst of connections closed
  // would keep that memory. Decommitting at once gives it back (83% against
  // 11% of a 4,000-connection burst; no CPU cost measured per request, see
  // bench/RESULTS.md). MIMALLOC_DECOMMIT_DELAY in the environment still wins.
  mi_option_set_default(mi_option_decommit_delay, 0);
#endif
  server::block_stop_signals();  // first, so every thread inherits the mask

  config::config cfg;
  try {
    cfg = config::parse(argc, argv, [](const char* name) { return std::getenv(name); });
  } catch (const config::usage_error& e) {
    std::fprintf(stderr, "tollgate: %s\n", e.what());
    return 2;
  }
  if (cfg.help) {
    std::fputs(config::help_text().c_str(), stdout);
    return 0;
  }
  if (cfg.version) {
    std::printf("tollgate %s (march %s, allocator %s)\n", TOLLGATE_VERSION, TOLLGATE_MARCH, allocator_name().c_str());
    return 0;
  }
  log::set_level(cfg.log_level);
  const bool http_upstream = cfg.upstream.rfind("http://", 0) == 0 || cfg.upstream.rfind("https://", 0) == 0;
  if (cfg.upstream_defaulted) {
    log::info("no upstream configured (--upstream / OPENMETER_URL): writing accepted events to stdout as JSON Lines");
  }
  try {
    // The output is built before the gateway: the HTTP one parses the URL,
    // resolves it, loads the trust store and opens the dead-letter file; the
    // jsonl one opens its file. So a bad set-up fails at start.
    std::unique_ptr<output::backend> out;
    const upstream::shared* api = nullptr;  // the upstream's API, for the pass-through
    upstream::backend* http_out = nullptr;
    if (http_upstream) {
      auto http = std::make_unique<upstream::backend>(cfg.forward);
      api = &http->settings();
      http_out = http.get();
      log::info("forwarding upstream", {{"url", http->describe()}, {"path", http->settings().path},
                                         {"token", cfg.upstream_token.empty() ? "none" : "set"},
                                         {"dead_letter", cfg.forward.dead_letter_path}});
      out = std::move(http);
    } else if (cfg.upstream.rfind("kafka://", 0) == 0) {
      auto kafka = std::make_unique<kafka::backend>(cfg.kafka);
      log::info("producing to kafka", {{"upstream", kafka->describe()}, {"namespace", cfg.kafka.ns},
                                       {"settings", kafka->settings_for_log()},
                                       {"dead_letter", cfg.kafka.dead_letter_path}});
      out = std::move(kafka);
    } else {
      out = std::make_unique<output::jsonl_backend>(cfg.output);
    }
    if (cfg.server.ingest_tokens_file.empty()) {
      log::warn("the ingest path is open: anyone who can reach this port can write events (set "
                "--ingest-tokens-file to require bearer tokens)");
    }
    server::gateway gw(cfg.server, out.get());
    if (api != nullptr) gw.pass_through_to(*api);
    log::info("pass-through", {{"mode", cfg.server.proxy == server::proxy_mode::off ? "off"
                                        : api != nullptr                          ? "on"
                                                                                  : "no upstream API (404)"},
                               {"connections_per_shard", cfg.server.proxy_connections},
                               {"timeout_ms", cfg.server.proxy_timeout_ms},
                               {"max_body_bytes", cfg.server.proxy_max_body_bytes}});
    // SIGHUP: the gateway re-reads its own files (tokens, certificate); this
    // re-reads the upstream token.
    if (http_out != nullptr && !cfg.upstream_token_file.empty()) {
      gw.on_reload([http_out, path = cfg.upstream_token_file] {
        try {
          http_out->set_token(config::read_token_file(path));
          log::info("reloaded --upstream-token-file", {{"path", path}});
        } catch (const std::exception& e) {
          log::error("reload of --upstream-token-file failed; keeping the token in use", {{"error", e.what()}});
        }
      });
    }
    log::info("starting", {{"version", TOLLGATE_VERSION}, {"shards", gw.shard_count()}, {"march", TOLLGATE_MARCH},
                           {"allocator", allocator_name()}});
    const server::run_report report = gw.run();
    if (report.events_left > 0) {
      log::error("stopped with accepted events left unwritten", {{"events_left", report.events_left}});
      return 1;
    }
    log::info("stopped", {{"events_left", 0}});
    return 0;
  } catch (const reactor::unsupported& e) {
    log::error("io_uring is not usable here", {{"error", e.what()}});
    return 3;
  } catch (const std::exception& e) {
    log::error("cannot start", {{"error", e.what()}});
    return 2;
  }
}
