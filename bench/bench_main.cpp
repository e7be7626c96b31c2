// SPDX-License-Identifier: Apache-2.0
// The micro-benchmarks' shared main. Google Benchmark 1.7.1 exits 0 even when a
// benchmark's own result check called SkipWithError, so a faster but wrong
// change would pass: this main reports as usual (any --benchmark_format) and
// exits 1 when a run errored, or when the filter matched no benchmark.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace {

// Forwards to the reporter --benchmark_format asks for, counting errored runs.
class checking_reporter : public benchmark::BenchmarkReporter {
 public:
  checking_reporter() : inner_(benchmark::CreateDefaultDisplayReporter()) {}

  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) {
        ++errors;
        std::fprintf(stderr, "benchmark %s failed its own check: %s\n", r.benchmark_name().c_str(),
                     r.error_message.c_str());
      }
    }
    inner_->ReportRuns(runs);
  }
  void Finalize() override { inner_->Finalize(); }

  int errors = 0;

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  checking_reporter reporter;
  const std::size_t matched = benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (matched == 0) {
    std::fprintf(stderr, "no benchmark matches the filter\n");
    return 1;
  }
  return reporter.errors == 0 ? 0 : 1;
}
