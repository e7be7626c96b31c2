// SPDX-License-Identifier: Apache-2.0
// The upstream base URL (--upstream / OPENMETER_URL), parsed once at start-up
// into what the connection code needs: scheme, host to resolve and verify,
// port, the Host header and the path events are posted to. Taken as the SDKs
// take it: a base, to which "/api/v1/events" is appended.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/base/result.hpp"

namespace tg::upstream {

struct base_url {
  bool tls = false;
  std::string host;         // name or IP literal, IPv6 without brackets ("::1")
  std::uint16_t port = 0;   // explicit, or 80 / 443 from the scheme
  std::string path_prefix;  // "" or "/prefix" (never a trailing slash)
  std::string host_header;  // host[:port] as sent in Host; the port only when not the default
  bool host_is_ip = false;  // IP literal: no SNI, certificate checked against the IP SAN
};

// Accepts http:// and https:// URLs with an optional port and path; rejects
// other schemes, userinfo, an empty host, a port outside 1..65535, and a query
// or fragment (they would have no meaning on a base). Scheme and host name are
// matched case-insensitively and the host is lower-cased.
result<base_url, std::string> parse_base_url(std::string_view text);

// "<prefix>/api/v1/events".
std::string events_path(const base_url& url);

}  // namespace tg::upstream
