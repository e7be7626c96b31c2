// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's entry point: block the stop signals in every thread (the
// gateway waits for them with sigwait), parse flags, run the project's own
// gateway with the sink's handler on every shard and nobody consuming the
// event rings, and log the final counters. Exit: 0 stopped, 2 usage or
// start-up error, 3 io_uring unusable here.
#include <csignal>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "options.hpp"
#include "sink_handler.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/reactor/uring.hpp"
#include "tollgate/server/gateway.hpp"

int main(int argc, char** argv) {
  using namespace tg;
  server::block_stop_signals();  // first, so every thread inherits the mask

  const std::vector<std::string_view> args(argv + 1, argv + argc);
  sink::parse_outcome parsed = sink::parse_options(args);
  if (parsed.status == sink::parse_status::help) {
    std::fputs(sink::help_text().c_str(), stdout);
    return 0;
  }
  if (parsed.status == sink::parse_status::usage_error) {
    std::fprintf(stderr, "tollgate-sink: %s\n", parsed.message.c_str());
    return 2;
  }
  const sink::options& opts = parsed.opts;
  log::set_level(opts.log_level);
  try {
    sink::sink_state state(opts.token, opts.initial, opts.record_path);
    // No output: the sink keeps nothing in the event rings.
    server::gateway gw(opts.server, nullptr, [&state](const server::shard_resources& r) {
      return std::make_unique<sink::sink_handler>(state, r.opts, r.index);
    });
    log::info("tollgate-sink starting",
              {{"shards", gw.shard_count()}, {"token", opts.token.empty() ? "none" : "required"},
               {"record", opts.record_path}, {"faults", sink::faults_json(opts.initial)}});
    gw.run();
    std::string final_stats = state.counters.json();
    final_stats.pop_back();  // the newline that ends the /stats body
    log::info("stopped", {{"stats", final_stats}});
    return 0;
  } catch (const reactor::unsupported& e) {
    log::error("io_uring is not usable here", {{"error", e.what()}});
    return 3;
  } catch (const std::exception& e) {
    log::error("cannot start", {{"error", e.what()}});
    return 2;
  }
}
