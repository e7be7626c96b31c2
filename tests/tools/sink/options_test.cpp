// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's command line: defaults, start-up faults, derived server
// bounds, and usage errors (which main() turns into exit status 2).
#include <doctest/doctest.h>

#include <string_view>
#include <vector>

#include "options.hpp"

using namespace tg::sink;

namespace {
parse_outcome parse(std::vector<std::string_view> args) { return parse_options(args); }
}  // namespace

TEST_CASE("sink options have the documented defaults") {
  auto r = parse({});
  REQUIRE(r.status == parse_status::ok);
  CHECK(r.opts.server.listen == "127.0.0.1:8888");
  CHECK(r.opts.server.shards == 1);
  CHECK(r.opts.server.tick_ms == 5);
  CHECK(r.opts.server.limits.max_body_bytes == 16u << 20);
  CHECK(r.opts.server.buffer_bytes >= 2 * r.opts.server.limits.max_body_bytes);
  CHECK(r.opts.token.empty());
  CHECK(r.opts.record_path.empty());
  CHECK(r.opts.initial.status == 503);
  CHECK(r.opts.initial.retry_after == "1");
  CHECK(r.opts.initial.latency_ms == 0);
}

TEST_CASE("sink flags set faults and server options, in both value forms") {
  auto r = parse({"--listen", "127.0.0.1:0", "--shards=2", "--latency-ms", "50", "--fail-status", "429",
                  "--fail-count", "5", "--fail-ratio=0.25", "--retry-after", "", "--reject-id-prefix", "poison-",
                  "--drop-count", "2", "--drop-ratio", "0.1", "--tick-ms", "1", "--max-body-bytes", "1048576",
                  "--token", "t0k", "--record", "/tmp/x.jsonl", "--log-level", "warn"});
  REQUIRE(r.status == parse_status::ok);
  CHECK(r.opts.server.listen == "127.0.0.1:0");
  CHECK(r.opts.server.shards == 2);
  CHECK(r.opts.initial.latency_ms == 50);
  CHECK(r.opts.initial.status == 429);
  CHECK(r.opts.initial.status_count == 5);
  CHECK(r.opts.initial.status_ratio == 0.25);
  CHECK(r.opts.initial.retry_after.empty());
  CHECK(r.opts.initial.reject_id_prefix == "poison-");
  CHECK(r.opts.initial.drop_count == 2);
  CHECK(r.opts.initial.drop_ratio == 0.1);
  CHECK(r.opts.server.tick_ms == 1);
  CHECK(r.opts.server.limits.max_body_bytes == 1048576);
  CHECK(r.opts.server.buffer_bytes == 2 * 1048576 + 65536);
  CHECK(r.opts.token == "t0k");
  CHECK(r.opts.record_path == "/tmp/x.jsonl");
  CHECK(r.opts.log_level == tg::log::level::warn);
}

TEST_CASE("sink refuses bad flags with a message") {
  for (std::vector<std::string_view> args : std::vector<std::vector<std::string_view>>{
           {"--bogus", "1"}, {"--shards", "0"}, {"--fail-ratio", "2"}, {"--fail-status", "99"},
           {"--listen", "8888"}, {"--tick-ms", "0"}, {"--latency-ms", "x"}, {"--token"}, {"--max-body-bytes", "10"}}) {
    auto r = parse(args);
    CAPTURE(args[0]);
    CHECK(r.status == parse_status::usage_error);
    CHECK_FALSE(r.message.empty());
  }
}

TEST_CASE("sink --help documents every flag") {
  CHECK(parse({"--help"}).status == parse_status::help);
  const std::string h = help_text();
  for (const char* f : {"--listen", "--shards", "--record", "--token", "--latency-ms", "--fail-status", "--fail-count",
                        "--fail-ratio", "--retry-after", "--reject-id-prefix", "--drop-count", "--drop-ratio",
                        "--tick-ms", "--log-level", "--max-body-bytes"}) {
    CAPTURE(f);
    CHECK(h.find(f) != std::string::npos);
  }
}
