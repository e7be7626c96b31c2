// SPDX-License-Identifier: Apache-2.0
// For bench_main.cpp's own test: one benchmark that passes and one whose
// result check fails. Registered with should_fail, so the test passes only when
// the run exits non-zero.
#include <benchmark/benchmark.h>

namespace {

void passes(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(state.iterations());
}

void fails_its_check(benchmark::State& state) {
  state.SkipWithError("result check failed (on purpose)");
  for (auto _ : state) {
  }
}

}  // namespace

BENCHMARK(passes);
BENCHMARK(fails_its_check);
