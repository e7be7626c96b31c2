// SPDX-License-Identifier: Apache-2.0
// Small pieces for writing JSON snapshots of probes (GET /status.json): keys,
// numbers, and a histogram as its bounds and per-bucket counts. Every key is
// a fixed ASCII label with nothing to escape.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/metrics/histogram.hpp"

namespace tg::metrics::json {

void key(std::string& out, std::string_view k);
void num(std::string& out, std::uint64_t v);
// A finite number in printf format `f`; null otherwise.
void real(std::string& out, double v, const char* f = "%.6g");
inline std::uint64_t positive(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

// Upper bound of the bucket that holds quantile q; NaN with no observation or
// when it falls in +Inf.
template <std::size_t N>
double quantile_bound(const histogram<N>& h, double q) {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= N; ++i) total += h.bucket(i);
  if (total == 0) return NAN;
  const double rank = q * static_cast<double>(total);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < N; ++i) {
    seen += h.bucket(i);
    if (static_cast<double>(seen) >= rank) return h.bounds()[i];
  }
  return NAN;
}

// {"le":[bounds...],"counts":[per bucket..., +Inf]}
template <std::size_t N>
void histogram_json(std::string& out, const histogram<N>& h) {
  out += "{\"le\":[";
  for (std::size_t i = 0; i < N; ++i) {
    if (i) out += ',';
    real(out, h.bounds()[i], "%g");
  }
  out += "],\"counts\":[";
  for (std::size_t i = 0; i <= N; ++i) {
    if (i) out += ',';
    num(out, h.bucket(i));
  }
  out += "]}";
}

}  // namespace tg::metrics::json
