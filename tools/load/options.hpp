// SPDX-License-Identifier: Apache-2.0
// tollgate-load's command line: the options struct with its defaults and
// bounds, the --target URL, and --help. Parsing returns a value (ok, help, or a
// usage error with its message) so main() decides the exit status.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/result.hpp"

namespace tg::load {

inline constexpr std::string_view default_target = "http://127.0.0.1:4196/api/v1/events";

// Bounds on what one run may ask for; past them the command line is refused.
inline constexpr std::uint32_t max_connections = 100000;
inline constexpr std::uint32_t max_threads = 256;
inline constexpr std::uint32_t max_pipeline = 1024;
inline constexpr std::uint32_t max_events_per_request = 10000;  // the gateway's own per-request bound
inline constexpr std::size_t max_body_file_bytes = 64 * 1024 * 1024;
inline constexpr std::size_t max_extra_headers = 32;
inline constexpr double max_duration_s = 7 * 24 * 3600.0;

struct target {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;  // "127.0.0.1:4196", "[::1]:8080", as in the URL
  std::string path;         // "/api/v1/events", with any query
  std::string text;         // the URL as given
};

// http://HOST[:PORT][/PATH], HOST an IPv4 literal, [IPv6] literal or localhost.
// A PATH ending in an ingest path (/api/v1/events, /api/v3/openmeter/events)
// is used as is; any other URL is a base URL, as the OpenMeter SDKs take it,
// and requests go to PATH + /api/v1/events (a query is kept at the end).
result<target, std::string> parse_target(std::string_view url);

struct options {
  target where;
  std::uint32_t connections = 64;
  std::uint32_t threads = 1;
  std::uint32_t pipeline = 1;        // requests in flight per connection
  double duration_s = 10;            // 0: until SIGINT / SIGTERM
  bool duration_set = false;         // given explicitly (else --requests alone ends the run)
  std::uint64_t requests = 0;        // 0: no count limit
  double rate = 0;                   // requests/s over all connections; 0: closed loop
  std::uint32_t events_per_request = 1;
  std::string body_file;             // --body: send this file's bytes as every body
  std::string body;                  // its contents, read by parse_options
  std::uint32_t body_events = 0;     // events in the --body file (1 for an object, elements of an array)
  std::string content_type;          // resolved Content-Type of every request
  bool seeder = false;               // the seed example's seeder: 1 event/s, times over the last 3 days
  std::uint32_t timeout_ms = 10000;  // per request (from its send) and per connect
  std::vector<std::string> headers;  // extra "Name: value" lines
  bool json = false;
  double max_error_rate = -1;        // --max-error-rate: fail when the non-2xx share is above it; < 0: off
};

enum class parse_status : std::uint8_t { ok, help, version, usage_error };

struct parse_outcome {
  parse_status status = parse_status::ok;
  options opts;
  std::string message;  // for usage_error
};

// args excludes the program name. Reads the --body file. Flags are as in
// --help; short ones also take their value attached ("-c4", "-d3s"), and one
// argument that is not a flag is the target URL.
parse_outcome parse_options(std::span<const std::string_view> args);

std::string help_text();

}  // namespace tg::load
