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

std::string& members::key(std::string_view k) {
  if (!first_) out_ += ',';
  first_ = false;
  json::key(out_, k);
  return out_;
}

members& members::num(std::string_view k, std::uint64_t v) {
  json::num(key(k), v);
  return *this;
}

members& members::flag(std::string_view k, bool v) {
  key(k) += v ? "true" : "false";
  return *this;
}

members& members::label(std::string_view k, std::string_view v) {
  std::string& o = key(k);
  o += '"';
  o += v;
  o += '"';
  return *this;
}

members& members::real(std::string_view k, double v, const char* f) {
  json::real(key(k), v, f);
  return *this;
}

}  // namespace tg::metrics::json
