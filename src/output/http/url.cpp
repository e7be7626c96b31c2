// SPDX-License-Identifier: Apache-2.0
// Base URL parsing: a deliberately small subset of RFC 3986, enough for what an
// operator types as an upstream, with an error message naming what was wrong.
#include "tollgate/output/http/url.hpp"

#include <arpa/inet.h>

#include <cctype>

namespace tg::upstream {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// A registered name as DNS would take it: letters, digits, '-', '.', '_'.
bool is_reg_name(std::string_view s) {
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  }
  return !s.empty() && s.front() != '.' && s.front() != '-';
}

unexpected<std::string> fail(std::string_view url, std::string_view why) {
  return unexpected{"invalid upstream URL '" + std::string(url) + "': " + std::string(why)};
}

}  // namespace

result<base_url, std::string> parse_base_url(std::string_view text) {
  base_url u;
  std::string_view rest = text;
  std::size_t colon = rest.find("://");
  if (colon == std::string_view::npos) return fail(text, "expected http:// or https://");
  std::string scheme = lower(rest.substr(0, colon));
  if (scheme == "https") {
    u.tls = true;
  } else if (scheme != "http") {
    return fail(text, "unsupported scheme '" + scheme + "' (expected http or https)");
  }
  rest.remove_prefix(colon + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) return fail(text, "a query or fragment is not allowed");

  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) {
    return fail(text, "credentials in the URL are not allowed (use OPENMETER_TOKEN)");
  }

  std::string_view host_part;
  std::string_view port_part;
  bool bracketed = false;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(text, "unterminated '[' in host");
    host_part = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(text, "unexpected characters after ']'");
      port_part = after.substr(1);
      if (port_part.empty()) return fail(text, "empty port");
    }
    bracketed = true;
  } else {
    std::size_t pc = authority.find(':');
    host_part = authority.substr(0, pc);
    if (pc != std::string_view::npos) {
      port_part = authority.substr(pc + 1);
      if (port_part.empty()) return fail(text, "empty port");
    }
  }
  if (host_part.empty()) return fail(text, "empty host");
  u.host = lower(host_part);
  if (bracketed) {
    if (!is_ipv6(u.host)) return fail(text, "'[" + u.host + "]' is not an IPv6 address");
    u.host_is_ip = true;
  } else if (is_ipv4(u.host)) {
    u.host_is_ip = true;
  } else if (!is_reg_name(u.host)) {
    return fail(text, "invalid host name '" + u.host + "'");
  }

  std::uint16_t default_port = u.tls ? 443 : 80;
  if (port_part.empty()) {
    u.port = default_port;
  } else {
    if (port_part.size() > 5) return fail(text, "port out of range");
    unsigned p = 0;
    for (char c : port_part) {
      if (c < '0' || c > '9') return fail(text, "port is not a number");
      p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p == 0 || p > 65535) return fail(text, "port out of range");
    u.port = static_cast<std::uint16_t>(p);
  }

  u.host_header = bracketed ? "[" + u.host + "]" : u.host;
  if (u.port != default_port) u.host_header += ":" + std::to_string(u.port);

  // Collapse trailing slashes so "https://x/prefix/" and "https://x/prefix" post
  // to the same place; the path is sent as given otherwise (no normalisation).
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  for (char c : path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(text, "invalid character in path");
  }
  u.path_prefix = std::string(path);
  return u;
}

std::string events_path(const base_url& url) { return url.path_prefix + "/api/v1/events"; }

}  // namespace tg::upstream
