// SPDX-License-Identifier: Apache-2.0
// Building blocks of the Prometheus text exposition format (version 0.0.4),
// for every component that renders its own families: a family's HELP/TYPE
// head, one sample, and a histogram summed over the shards' probes. Probes
// are written by their shard and read here by whichever shard serves
// GET /metrics (relaxed atomics: a scrape sees each value whole).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

namespace tg::metrics {

void head(std::string& out, std::string_view name, std::string_view type, std::string_view help);
void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t v);
// `shard="i"`, the label of per-shard gauges.
std::string shard_label(std::size_t i);

// One histogram family summed over `probes`; get(probe) returns the probe's
// histogram (every one with the same bounds).
template <class Probe, class Get>
void histogram_samples(std::string& out, std::string_view name, std::span<const Probe* const> probes, Get get) {
  if (probes.empty()) return;
  const auto& bounds = get(*probes[0]).bounds();
  const std::size_t n = bounds.size();
  std::uint64_t cumulative = 0;
  double total = 0;
  char le[48];
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i <= n; ++i) {
    for (const Probe* p : probes) cumulative += get(*p).bucket(i);
    if (i < n) std::snprintf(le, sizeof le, "le=\"%g\"", bounds[i]);
    else std::snprintf(le, sizeof le, "le=\"+Inf\"");
    sample(out, bucket, le, cumulative);
  }
  for (const Probe* p : probes) total += get(*p).sum();
  char buf[32];
  std::snprintf(buf, sizeof buf, " %.6f\n", total);
  out.append(name);
  out += "_sum";
  out += buf;
  sample(out, std::string(name) + "_count", {}, cumulative);
}

// Sum of one counter over the probes.
template <class Probe, class Get>
std::uint64_t sum(std::span<const Probe* const> probes, Get get) {
  std::uint64_t total = 0;
  for (const Probe* p : probes) total += get(*p);
  return total;
}

}  // namespace tg::metrics
