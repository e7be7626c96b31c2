// SPDX-License-Identifier: Apache-2.0
// The upstream base URL: what operators type as --upstream / OPENMETER_URL is
// either understood exactly or refused at start-up with a reason.
#include <doctest/doctest.h>

#include "tollgate/output/http/url.hpp"

using namespace tg::upstream;

TEST_CASE("https base URL without port or path posts to /api/v1/events on 443") {
  auto u = parse_base_url("https://openmeter.cloud");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "openmeter.cloud");
  CHECK(u->port == 443);
  CHECK(u->path_prefix.empty());
  CHECK(u->host_header == "openmeter.cloud");
  CHECK_FALSE(u->host_is_ip);
  CHECK(events_path(*u) == "/api/v1/events");
}

TEST_CASE("http base URL with an IPv4 literal and an explicit port") {
  auto u = parse_base_url("http://127.0.0.1:8888");
  REQUIRE(u);
  CHECK_FALSE(u->tls);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == 8888);
  CHECK(u->host_header == "127.0.0.1:8888");
  CHECK(u->host_is_ip);
}

TEST_CASE("IPv6 literal in brackets, trailing slash") {
  auto u = parse_base_url("http://[::1]:8888/");
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->port == 8888);
  CHECK(u->host_header == "[::1]:8888");
  CHECK(u->host_is_ip);
  CHECK(events_path(*u) == "/api/v1/events");
}

TEST_CASE("a path prefix is kept without its trailing slash") {
  auto u = parse_base_url("https://example.com/prefix/");
  REQUIRE(u);
  CHECK(u->path_prefix == "/prefix");
  CHECK(events_path(*u) == "/prefix/api/v1/events");
  auto v = parse_base_url("https://example.com/a/b");
  REQUIRE(v);
  CHECK(events_path(*v) == "/a/b/api/v1/events");
}

TEST_CASE("default port is left out of Host, another port is kept") {
  CHECK(parse_base_url("http://example.com:80")->host_header == "example.com");
  CHECK(parse_base_url("https://example.com:443")->host_header == "example.com");
  CHECK(parse_base_url("https://example.com:80")->host_header == "example.com:80");
  CHECK(parse_base_url("http://example.com")->port == 80);
}

TEST_CASE("scheme and host are case-insensitive, host is lower-cased") {
  auto u = parse_base_url("HTTPS://OpenMeter.Cloud");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "openmeter.cloud");
}

TEST_CASE("invalid base URLs are refused with a reason") {
  const char* bad[] = {
      "openmeter.cloud",           // no scheme
      "ftp://example.com",         // other scheme
      "https://user:pw@example.com",  // userinfo
      "https://",                  // empty host
      "https:///path",             // empty host
      "http://:8080",              // empty host
      "http://example.com:",       // empty port
      "http://example.com:0",      // port 0
      "http://example.com:65536",  // port too large
      "http://example.com:123456",
      "http://example.com:80a",
      "http://example.com?x=1",    // query
      "http://example.com/p#frag", // fragment
      "http://[::1",               // unterminated bracket
      "http://[example.com]:80",   // not IPv6 in brackets
      "http://[::1]x",
      "http://exa mple.com",
      "http://example.com/a b",
  };
  for (const char* s : bad) {
    CAPTURE(s);
    auto u = parse_base_url(s);
    CHECK_FALSE(u);
    if (!u) CHECK(u.error().find("invalid upstream URL") != std::string::npos);
  }
}

TEST_CASE("the reason names the problem") {
  CHECK(parse_base_url("ftp://x").error().find("unsupported scheme 'ftp'") != std::string::npos);
  CHECK(parse_base_url("https://u@x").error().find("credentials") != std::string::npos);
  CHECK(parse_base_url("http://x:99999").error().find("port") != std::string::npos);
}
