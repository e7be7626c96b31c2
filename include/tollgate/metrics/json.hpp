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

// The members of one object, each written with the comma before it that all
// but the first need. The braces stay the caller's, so a member's value can be
// written by any other piece: key() writes the name and leaves the value to the
// caller.
class members {
 public:
  explicit members(std::string& out) noexcept : out_(out) {}
  std::string& key(std::string_view k);
  members& num(std::string_view k, std::uint64_t v);
  members& flag(std::string_view k, bool v);
  // A fixed ASCII label as a string (nothing to escape, like the keys).
  members& label(std::string_view k, std::string_view v);
  members& real(std::string_view k, double v, const char* f);

 private:
  std::string& out_;
  bool first_ = true;
};

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
