// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's command line: the options with their defaults and bounds,
// and --help. Parsing returns a value (ok, help, or a usage error with its
// message) so main() decides the exit status.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "faults.hpp"
#include "tollgate/base/log.hpp"
#include "tollgate/server/options.hpp"

namespace tg::sink {

inline constexpr std::string_view default_listen = "127.0.0.1:8888";
inline constexpr std::size_t default_max_body_bytes = 16u << 20;  // batches are larger than single events
inline constexpr unsigned default_tick_ms = 5;                    // granularity of --latency-ms

struct options {
  server::options server;  // filled by parse_options: listen, shards, tick, body limit, buffers
  std::string record_path;
  std::string token;
  faults initial;
  log::level log_level = log::level::info;
};

enum class parse_status : std::uint8_t { ok, help, usage_error };

struct parse_outcome {
  parse_status status = parse_status::ok;
  options opts;
  std::string message;  // for usage_error
};

// args excludes the program name.
parse_outcome parse_options(std::span<const std::string_view> args);

std::string help_text();

}  // namespace tg::sink
