// SPDX-License-Identifier: Apache-2.0
// Command-line parsing for tollgate-load. Every flag takes its value as the
// next argument or after '=' (short flags also attached: -c4); numbers are
// checked against the bounds in options.hpp; durations and rates take units
// (units.hpp). --seeder sets defaults that explicit flags still override.
#include "options.hpp"

#include "units.hpp"

#include "tollgate/base/parse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

namespace tg::load {
namespace {

constexpr std::uint16_t default_http_port = 80;

// The paths tollgate (and OpenMeter) ingest on; a target ending in one is an
// ingest URL, anything else a base URL.
constexpr std::string_view ingest_paths[] = {"/api/v1/events", "/api/v3/openmeter/events"};
constexpr std::string_view base_url_ingest_path = "/api/v1/events";

// Short flags that take a value, which may be attached ("-c4", "-d3s").
constexpr std::string_view short_with_value = "ctdnRkH";

std::string resolve_ingest_path(std::string_view path_and_query) {
  const std::size_t q = path_and_query.find('?');
  std::string_view path = path_and_query.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : path_and_query.substr(q);
  for (std::string_view ingest : ingest_paths) {
    if (path.ends_with(ingest)) return std::string(path_and_query);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return std::string(path) + std::string(base_url_ingest_path) + std::string(query);
}

// Top-level elements of a JSON array (1 for anything else), for counting the
// events of a --body file; strings are skipped so their commas do not count.
std::uint32_t count_body_events(std::string_view body) {
  std::size_t i = body.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos || body[i] != '[') return 1;
  std::uint32_t depth = 0, commas = 0;
  bool in_string = false, any = false;
  for (; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') --depth;
    else if (c == ',' && depth == 1) ++commas;
    if (depth >= 1 && !(depth == 1 && (c == '[' || c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n')))
      any = true;
    if (depth == 0) break;
  }
  return any ? commas + 1 : 0;
}

}  // namespace

result<target, std::string> parse_target(std::string_view url) {
  target t;
  t.text = std::string(url);
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return unexpected(std::string("only http:// targets are supported"));
  std::string_view rest = url.substr(scheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  t.path = resolve_ingest_path(slash == std::string_view::npos ? std::string_view{} : rest.substr(slash));
  t.host_header = std::string(authority);

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  bool v6 = false;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return unexpected(std::string("unterminated [IPv6] host"));
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return unexpected(std::string("junk after [IPv6] host"));
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
    v6 = true;
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    has_port = colon != std::string_view::npos;
    if (has_port) port_text = authority.substr(colon + 1);
  }
  std::uint64_t port = default_http_port;
  if (has_port && (!parse_u64(port_text, port) || port == 0 || port > 65535))
    return unexpected(std::string("bad port"));
  if (host == "localhost") host = "127.0.0.1";
  const std::string host_z(host);
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&t.addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, host_z.c_str(), &a->sin6_addr) != 1) return unexpected(std::string("bad IPv6 address"));
    t.addr_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&t.addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host_z.c_str(), &a->sin_addr) != 1)
      return unexpected(std::string("host must be an IPv4 literal, an [IPv6] literal or localhost"));
    t.addr_len = sizeof(sockaddr_in);
  }
  return t;
}

parse_outcome parse_options(std::span<const std::string_view> args) {
  parse_outcome out;
  options& o = out.opts;
  auto fail = [&](std::string msg) {
    out.status = parse_status::usage_error;
    out.message = std::move(msg);
    return out;
  };
  std::string target_text(default_target);
  bool target_given = false;
  std::optional<std::uint64_t> connections, threads, epr;
  std::optional<double> rate;

  for (std::size_t i = 0; i < args.size(); ++i) {
    auto [flag, inline_value] = split_flag(args[i]);
    if (flag.size() > 2 && flag[0] == '-' && flag[1] != '-' && short_with_value.find(flag[1]) != std::string_view::npos) {
      inline_value = flag.substr(2);  // "-c4": the value attached
      flag = flag.substr(0, 2);
    }
    auto set_target = [&](std::string_view url) {
      if (target_given) return false;
      target_text = std::string(url);
      target_given = true;
      return true;
    };
    auto value = [&]() -> std::optional<std::string_view> {
      if (inline_value) return inline_value;
      if (i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    auto number = [&](std::uint64_t lo, std::uint64_t hi, std::optional<std::uint64_t>& dst) -> bool {
      auto v = value();
      std::uint64_t n = 0;
      if (!v || !parse_u64(*v, n) || n < lo || n > hi) return false;
      dst = n;
      return true;
    };
    auto bad = [&](std::string_view what) {
      return fail(std::string(flag) + ": " + std::string(what));
    };

    if (flag == "-h" || flag == "--help") {
      out.status = parse_status::help;
      return out;
    } else if (flag == "--version") {
      out.status = parse_status::version;
      return out;
    } else if (!flag.starts_with("-")) {
      if (!set_target(flag)) return fail("more than one target: " + target_text + " and " + std::string(flag));
    } else if (flag == "--target") {
      auto v = value();
      if (!v) return bad("needs a URL");
      if (!set_target(*v)) return fail("more than one target: " + target_text + " and " + std::string(*v));
    } else if (flag == "--connections" || flag == "-c") {
      if (!number(1, max_connections, connections)) return bad("needs a number from 1 to " + std::to_string(max_connections));
    } else if (flag == "--threads" || flag == "-t") {
      if (!number(1, max_threads, threads)) return bad("needs a number from 1 to " + std::to_string(max_threads));
    } else if (flag == "--pipeline") {
      std::optional<std::uint64_t> d;
      if (!number(1, max_pipeline, d)) return bad("needs a number from 1 to " + std::to_string(max_pipeline));
      o.pipeline = static_cast<std::uint32_t>(*d);
    } else if (flag == "--duration" || flag == "-d") {
      auto v = value();
      const auto s = v ? parse_duration(*v, 1) : std::nullopt;
      if (!s || *s > max_duration_s) return bad("needs a duration: 500ms, 3s, 1m, 1h30m, or seconds (0: until interrupted)");
      o.duration_s = *s;
      o.duration_set = true;
    } else if (flag == "--requests" || flag == "-n") {
      std::optional<std::uint64_t> n;
      if (!number(1, UINT64_MAX / 2, n)) return bad("needs a positive count");
      o.requests = *n;
    } else if (flag == "--rate" || flag == "-R") {
      auto v = value();
      const auto r = v ? parse_rate(*v) : std::nullopt;
      if (!r || *r <= 0 || *r > 1e9) return bad("needs requests per second (> 0): 2000, 10k, 1000/s, 600/m, 50/1s");
      rate = *r;
    } else if (flag == "--events-per-request" || flag == "-k") {
      if (!number(1, max_events_per_request, epr))
        return bad("needs a number from 1 to " + std::to_string(max_events_per_request));
    } else if (flag == "--body") {
      auto v = value();
      if (!v) return bad("needs a file");
      o.body_file = std::string(*v);
    } else if (flag == "--content-type") {
      auto v = value();
      if (!v || v->empty()) return bad("needs a media type");
      o.content_type = std::string(*v);
    } else if (flag == "--header" || flag == "-H") {
      auto v = value();
      if (!v || v->find(':') == std::string_view::npos || v->find_first_of("\r\n") != std::string_view::npos)
        return bad("needs \"Name: value\"");
      if (o.headers.size() >= max_extra_headers) return bad("too many headers");
      o.headers.emplace_back(*v);
    } else if (flag == "--timeout") {
      auto v = value();
      const auto s = v ? parse_duration(*v, 1e-3) : std::nullopt;
      const double ms = s ? std::round(*s * 1e3) : 0;
      if (!s || ms < 1 || ms > 3600 * 1000) return bad("needs a duration from 1ms to 1h (a bare number is milliseconds)");
      o.timeout_ms = static_cast<std::uint32_t>(ms);
    } else if (flag == "--max-error-rate") {
      auto v = value();
      double r = 0;
      if (!v || !parse_double(*v, r) || !(r >= 0 && r <= 1)) return bad("needs a share from 0 to 1, e.g. 0.01");
      o.max_error_rate = r;
    } else if (flag == "--seeder") {
      o.seeder = true;
    } else if (flag == "--json") {
      o.json = true;
    } else {
      return fail("unknown flag " + std::string(args[i]) + " (see --help)");
    }
  }

  auto where = parse_target(target_text);
  if (!where) return fail("--target " + target_text + ": " + where.error());
  o.where = std::move(where.value());

  // The seed example's seeder: one event a second on one connection.
  o.connections = static_cast<std::uint32_t>(connections.value_or(o.seeder ? 1 : o.connections));
  o.threads = static_cast<std::uint32_t>(threads.value_or(1));
  o.events_per_request = static_cast<std::uint32_t>(epr.value_or(1));
  o.rate = rate.value_or(o.seeder ? 1.0 : 0.0);
  if (o.threads > o.connections) o.threads = o.connections;
  if (o.requests != 0 && !o.duration_set) o.duration_s = 0;

  if (!o.body_file.empty()) {
    if (epr) return fail("--body and --events-per-request exclude each other");
    if (o.seeder) return fail("--body and --seeder exclude each other");
    std::ifstream f(o.body_file, std::ios::binary);
    if (!f) return fail("--body " + o.body_file + ": cannot open: " + std::strerror(errno));
    o.body.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    if (o.body.size() > max_body_file_bytes) return fail("--body " + o.body_file + ": larger than 64 MiB");
    o.body_events = count_body_events(o.body);
    if (o.content_type.empty()) {
      const std::size_t first = o.body.find_first_not_of(" \t\r\n");
      const bool array = first != std::string::npos && o.body[first] == '[';
      o.content_type = array ? "application/cloudevents-batch+json" : "application/cloudevents+json";
    }
  } else {
    if (!o.content_type.empty()) return fail("--content-type needs --body (generated bodies set their own)");
    o.content_type = o.events_per_request == 1 ? "application/cloudevents+json" : "application/cloudevents-batch+json";
  }
  return out;
}

std::string help_text() {
  return R"(Usage: tollgate-load [flags] [URL]

Sends CloudEvents to an HTTP ingest endpoint (tollgate, OpenMeter, anything that
takes POST /api/v1/events) over io_uring and reports throughput, status codes,
errors and latency percentiles.

Closed loop (default): every connection keeps --pipeline requests in flight.
Open loop (--rate): requests are intended at a fixed rate, spread evenly over the
connections; latency counts from each request's intended send time, so a server
stall shows in the percentiles instead of slowing the load (no coordinated
omission).

Flags take their value as the next argument or after '='; short flags also
attached (-c4, -d3s). Durations take units (500ms, 3s, 1m, 1h30m), rates a k or M
and a period (10k, 1000/s, 600/m, 50/1s).

Target and load:
  --target URL               http://HOST[:PORT][/PATH], also given as the one
                             argument that is not a flag; HOST is an IPv4 literal,
                             an [IPv6] literal or localhost. A PATH ending in
                             /api/v1/events or /api/v3/openmeter/events is used as
                             is; any other URL is a base URL, as the OpenMeter SDKs
                             take it, and requests go to URL/api/v1/events (default
                             )" + std::string(default_target) + R"()
  -c, --connections N        connections, spread over the threads (default 64; --seeder: 1)
  -t, --threads N            threads, each with its own io_uring (default 1)
  --pipeline D               requests in flight per connection (default 1)
  -d, --duration D           how long to send for (a bare number is seconds,
                             fractions allowed); 0 runs until SIGINT/SIGTERM
                             (default 10s, or unlimited with --requests)
  -n, --requests N           stop after N requests in total (default: no limit)
  -R, --rate R               open loop at R requests/s in total (default: closed loop;
                             --seeder: 1)
  --timeout D                a request without a response D after it was sent, or a
                             connect not done in D, is an error (a bare number is
                             milliseconds; default 10s)

Bodies:
  -k, --events-per-request K
                             generated events per request: 1 sends one object as
                             application/cloudevents+json, more send an array as
                             application/cloudevents-batch+json (default 1)
  --body FILE                send FILE's bytes as every request body instead
  --content-type TYPE        Content-Type for --body (default: batch if the file
                             starts with '[', else single)
  -H, --header "N: V"        an extra request header, e.g. Authorization (repeatable)
  --seeder                   the seed example's seeder: one event per second on one
                             connection, times spread over the last three days

Generated events look like the seed's: type api-calls, source api-gateway, subject
customer-N (N < 100), time now, data {method, path, region, zone, duration_ms}; every
id is unique within the run (a random run prefix, the thread, a counter).

Output and exit status:
  --json                     the final report as one JSON object on stdout
  --max-error-rate F         exit 1 when more than the share F (0 to 1, e.g. 0.01)
                             of the requests sent did not get a 2xx answer
                             (default: off)
  --version                  print the version and exit
  -h, --help                 this text

A progress line (requests/s, events/s, errors, p99 so far) is printed to stderr
once a second when stderr is a terminal.

Exit status: 0 done; 1 the target could not be reached at all, no request got a
2xx answer, or the non-2xx share was above --max-error-rate; 2 usage error.
)";
}

}  // namespace tg::load
