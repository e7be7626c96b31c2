// SPDX-License-Identifier: Apache-2.0
// What tollgate-load prints: the final report (text for people, one JSON
// object for scripts) and the once-a-second progress line. Pure functions of
// the merged stats, so they are tested without a run.
#pragma once

#include <string>

#include "options.hpp"
#include "stats.hpp"

namespace tg::load {

struct report_input {
  const options& opts;
  const stats& total;
  double elapsed_s = 0;  // from the common start to the last thread's end (drain included)
};

std::string render_text(const report_input& in);
std::string render_json(const report_input& in);

// "  3s  12345 req/s  61725 ev/s  0 errors  p99 1.23ms" for the interval
// between `before` and `now` (interval_s long), p99 over the whole run so far.
std::string render_progress(double t_s, const stats& now, const stats& before, double interval_s);

// Why the run failed (exit 1), or "" when it did not: no request got a 2xx
// answer, or the share of requests sent without one is above --max-error-rate.
std::string run_failure(const options& o, const stats& total);

}  // namespace tg::load
