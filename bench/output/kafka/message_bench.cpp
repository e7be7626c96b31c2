// SPDX-License-Identifier: Apache-2.0
// Cost of encoding one accepted event as OpenMeter's Kafka message (key,
// value with data compacted and escaped, timestamp), the one re-encoding on
// the Kafka path. Every message is checked before timing against a value
// built the obvious way, so a faster but wrong change fails the run.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tollgate/output/kafka/message.hpp"

namespace {

// The seed generator's events, as the HTTP output's benchmark uses them (~260 bytes).
std::string event(int i, std::string& expect) {
  const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
  const char* regions[] = {"us-east-1", "us-east-2", "eu-west-1", "ap-south-1"};
  char id[64], data[256], buf[512];
  std::snprintf(id, sizeof id, "%08x-6513-470e-a69e-%012x", 0xa6a3a450u + static_cast<unsigned>(i),
                static_cast<unsigned>(i) * 7919u);
  std::snprintf(data, sizeof data, R"({"method":"%s","path":"/api/v1/items","region":"%s","zone":"%sa","duration_ms":%d})",
                methods[i % 4], regions[i % 4], regions[i % 4], 100 + i * 37 % 900);
  const int n = std::snprintf(buf, sizeof buf,
                              R"({"id":"%s","specversion":"1.0","type":"api-calls","source":"api-gateway",)"
                              R"("subject":"customer-%d","time":"2026-11-24T02:%02d:%02d.%03dZ","data":%s})",
                              id, i % 100, i / 60 % 60, i % 60, i % 1000, data);
  // 2026-11-24T02:00:00Z is 1795485600.
  std::string escaped;
  for (const char* p = data; *p; ++p) {
    if (*p == '"') escaped += '\\';
    escaped += *p;
  }
  expect = std::string(R"({"id":")") + id + R"(","type":"api-calls","source":"api-gateway","subject":"customer-)" +
           std::to_string(i % 100) + R"(","time":)" + std::to_string(1795485600 + (i / 60 % 60) * 60 + i % 60) +
           R"(,"data":")" + escaped + "\"}";
  return std::string(buf, static_cast<std::size_t>(n));
}

void encode_event(benchmark::State& state) {
  std::vector<std::string> events, expect(1000);
  for (int i = 0; i < 1000; ++i) events.push_back(event(i, expect[static_cast<std::size_t>(i)]));
  tg::kafka::encoder enc;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto m = enc.encode(events[i], "default");
    if (!m || m->value != expect[i] || m->key.substr(0, 20) != "default-api-gateway-") {
      state.SkipWithError("encoded message differs from the reference");
      std::fprintf(stderr, "message_bench: event %zu encodes wrongly\n", i);
      std::exit(1);
    }
  }
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto m = enc.encode(events[i], "default");
    benchmark::DoNotOptimize(m);
    bytes += events[i].size();
    if (++i == events.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(encode_event);

}  // namespace


