// SPDX-License-Identifier: Apache-2.0
// The command line: defaults, --target forms (ingest and base URLs), flags as
// wrk/hey/vegeta users type them (units, attached short flags, a positional
// URL), bounds, --seeder's defaults, --body files, and usage errors (which
// main() turns into exit status 2).
#include <doctest/doctest.h>

#include <netinet/in.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "options.hpp"

using namespace tg::load;

namespace {
parse_outcome parse(std::vector<std::string_view> args) { return parse_options(args); }
}  // namespace

TEST_CASE("defaults") {
  const parse_outcome p = parse({});
  REQUIRE(p.status == parse_status::ok);
  const options& o = p.opts;
  CHECK(o.connections == 64);
  CHECK(o.threads == 1);
  CHECK(o.pipeline == 1);
  CHECK(o.duration_s == 10);
  CHECK(o.requests == 0);
  CHECK(o.rate == 0);
  CHECK(o.events_per_request == 1);
  CHECK(o.content_type == "application/cloudevents+json");
  CHECK(o.where.text == default_target);
  CHECK(o.where.path == "/api/v1/events");
  CHECK(o.where.host_header == "127.0.0.1:4196");
  CHECK_FALSE(o.json);
}

TEST_CASE("--target accepts IPv4, [IPv6] and localhost, with or without a port and path") {
  auto t = parse_target("http://10.1.2.3:8080/x/api/v1/events?y=1");
  REQUIRE(t);
  CHECK(t->path == "/x/api/v1/events?y=1");
  CHECK(t->host_header == "10.1.2.3:8080");
  CHECK(t->addr.ss_family == AF_INET);
  CHECK(ntohs(reinterpret_cast<const sockaddr_in&>(t->addr).sin_port) == 8080);

  t = parse_target("http://[::1]:9/");
  REQUIRE(t);
  CHECK(t->addr.ss_family == AF_INET6);
  CHECK(ntohs(reinterpret_cast<const sockaddr_in6&>(t->addr).sin6_port) == 9);

  t = parse_target("http://localhost");
  REQUIRE(t);
  CHECK(t->path == "/api/v1/events");
  CHECK(ntohs(reinterpret_cast<const sockaddr_in&>(t->addr).sin_port) == 80);

  for (const char* bad : {"https://127.0.0.1/", "http://example.com/", "http://127.0.0.1:0/", "http://127.0.0.1:70000/",
                          "http://[::1/", "http://[::1]x/", "127.0.0.1:80", "http://127.0.0.1:/"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_target(bad));
  }
}

TEST_CASE("a base URL, as the OpenMeter SDKs take it, posts to /api/v1/events under its path") {
  struct row {
    const char* url;
    const char* path;
  };
  for (const row& r : {row{"http://127.0.0.1:4196", "/api/v1/events"}, row{"http://127.0.0.1:4196/", "/api/v1/events"},
                       row{"http://127.0.0.1/openmeter", "/openmeter/api/v1/events"},
                       row{"http://127.0.0.1/openmeter/", "/openmeter/api/v1/events"},
                       row{"http://127.0.0.1/?a=b", "/api/v1/events?a=b"},
                       row{"http://127.0.0.1/api/v1/events", "/api/v1/events"},
                       row{"http://127.0.0.1/api/v3/openmeter/events", "/api/v3/openmeter/events"},
                       row{"http://127.0.0.1/gw/api/v1/events?x=1", "/gw/api/v1/events?x=1"},
                       row{"http://127.0.0.1/api/v1", "/api/v1/api/v1/events"}}) {
    CAPTURE(r.url);
    const auto t = parse_target(r.url);
    REQUIRE(t);
    CHECK(t->path == r.path);
    CHECK(t->text == r.url);  // kept as given, for messages and the JSON report
  }
}

TEST_CASE("flags as wrk, hey and vegeta users type them: units, attached short flags, a positional URL") {
  parse_outcome p = parse({"-c4", "-t2", "-d3s", "-R10k", "-k5", "-n100", "-HX-A: b", "--timeout", "2s",
                           "http://127.0.0.1:9000"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.connections == 4);
  CHECK(p.opts.threads == 2);
  CHECK(p.opts.duration_s == doctest::Approx(3));
  CHECK(p.opts.rate == doctest::Approx(10000));
  CHECK(p.opts.events_per_request == 5);
  CHECK(p.opts.requests == 100);
  REQUIRE(p.opts.headers.size() == 1);
  CHECK(p.opts.headers[0] == "X-A: b");
  CHECK(p.opts.timeout_ms == 2000);
  CHECK(p.opts.where.host_header == "127.0.0.1:9000");
  CHECK(p.opts.where.path == "/api/v1/events");

  p = parse({"http://127.0.0.1:9000/api/v1/events", "--duration", "500ms", "--rate", "1000/s"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.duration_s == doctest::Approx(0.5));
  CHECK(p.opts.rate == doctest::Approx(1000));
  p = parse({"--duration=1m", "--rate=50/1s", "--timeout=250"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.duration_s == doctest::Approx(60));
  CHECK(p.opts.rate == doctest::Approx(50));
  CHECK(p.opts.timeout_ms == 250);  // a bare --timeout is milliseconds, as before
}

TEST_CASE("--version, and --max-error-rate takes a share from 0 to 1") {
  CHECK(parse({"--version"}).status == parse_status::version);
  parse_outcome p = parse({});
  CHECK(p.opts.max_error_rate < 0);  // off by default
  p = parse({"--max-error-rate", "0.01"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.max_error_rate == doctest::Approx(0.01));
  p = parse({"--max-error-rate=0"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.max_error_rate == 0);
  for (const char* bad : {"-0.1", "1.5", "x", ""}) {
    CAPTURE(bad);
    CHECK(parse({"--max-error-rate", bad}).status == parse_status::usage_error);
  }
}

TEST_CASE("flags take their value as the next argument or after '='") {
  const parse_outcome p = parse({"--connections=8", "-t", "2", "--pipeline", "4", "--duration", "2.5", "--rate=500",
                                 "-k", "100", "--json", "-H", "Authorization: Bearer x", "--timeout", "250"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.connections == 8);
  CHECK(p.opts.threads == 2);
  CHECK(p.opts.pipeline == 4);
  CHECK(p.opts.duration_s == 2.5);
  CHECK(p.opts.rate == 500);
  CHECK(p.opts.events_per_request == 100);
  CHECK(p.opts.content_type == "application/cloudevents-batch+json");
  CHECK(p.opts.json);
  CHECK(p.opts.timeout_ms == 250);
  REQUIRE(p.opts.headers.size() == 1);
  CHECK(p.opts.headers[0] == "Authorization: Bearer x");
}

TEST_CASE("--requests alone runs until the count, and threads never outnumber connections") {
  parse_outcome p = parse({"--requests", "1000", "-c", "2", "-t", "8"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.duration_s == 0);
  CHECK(p.opts.threads == 2);
  p = parse({"--requests", "1000", "--duration", "3"});
  CHECK(p.opts.duration_s == 3);
}

TEST_CASE("--seeder sets one event a second on one connection; explicit flags win") {
  parse_outcome p = parse({"--seeder"});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.seeder);
  CHECK(p.opts.rate == 1);
  CHECK(p.opts.connections == 1);
  CHECK(p.opts.events_per_request == 1);
  p = parse({"--seeder", "--rate", "10", "-c", "2"});
  CHECK(p.opts.rate == 10);
  CHECK(p.opts.connections == 2);
}

TEST_CASE("--body reads the file, counts its events and picks the content type") {
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/tollgate-load-body-test.json";
  {
    std::ofstream f(path);
    f << R"( [{"id":"a,b","x":[1,2]}, {"id":"c"} ,{"id":"d"}] )";
  }
  parse_outcome p = parse({"--body", path});
  REQUIRE(p.status == parse_status::ok);
  CHECK(p.opts.body_events == 3);
  CHECK(p.opts.content_type == "application/cloudevents-batch+json");
  p = parse({"--body", path, "--content-type", "application/json"});
  CHECK(p.opts.content_type == "application/json");
  {
    std::ofstream f(path);
    f << R"({"id":"a"})";
  }
  p = parse({"--body", path});
  CHECK(p.opts.body_events == 1);
  CHECK(p.opts.content_type == "application/cloudevents+json");
  std::remove(path.c_str());
  CHECK(parse({"--body", path}).status == parse_status::usage_error);
}

TEST_CASE("usage errors and --help") {
  CHECK(parse({"--help"}).status == parse_status::help);
  CHECK(parse({"-h"}).status == parse_status::help);
  const std::vector<std::vector<std::string_view>> bad = {
      {"--nope"},
      {"--connections"},
      {"--connections", "0"},
      {"--connections", "100001"},
      {"--threads", "x"},
      {"--pipeline", "1025"},
      {"--duration", "-1"},
      {"--rate", "0"},
      {"-k", "10001"},
      {"--target", "https://x/"},
      {"http://127.0.0.1/", "http://127.0.0.1:81/"},        // two targets
      {"--target", "http://127.0.0.1/", "http://127.0.0.1/"},
      {"--duration", "3x"},
      {"--duration", "8d"},
      {"-d"},
      {"--rate", "10/0s"},
      {"--timeout", "0ms"},
      {"--timeout", "2h"},
      {"-c0"},
      {"-x4"},
      {"--content-type", "text/plain"},
      {"--header", "no colon"},
      {"--body", "/nonexistent/file", "-k", "2"},
  };
  for (const auto& args : bad) {
    CAPTURE(args.front());
    const parse_outcome p = parse(args);
    CHECK(p.status == parse_status::usage_error);
    CHECK_FALSE(p.message.empty());
  }
  const std::string help = help_text();
  for (const char* flag : {"--target", "--connections", "--threads", "--pipeline", "--duration", "--requests", "--rate",
                           "--timeout", "--events-per-request", "--body", "--content-type", "--header", "--seeder",
                           "--json", "--help", "--version", "--max-error-rate"}) {
    CAPTURE(flag);
    CHECK(help.find(flag) != std::string::npos);
  }
}
