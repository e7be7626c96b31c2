// SPDX-License-Identifier: Apache-2.0
// JSON snapshot pieces.
#include "tollgate/metrics/json.hpp"

#include <cstdio>

namespace tg::metrics::json {

void key(std::string& out, std::string_view k) {
  out += '"';
  out += k;
  out += "\":";
}

void num(std::string& out, std::uint64_t v) { out += std::to_string(v); }

void real(std::string& out, double v, const char* f) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, f, v);
  out += buf;
}

}  // namespace tg::metrics::json
