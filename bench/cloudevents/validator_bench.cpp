// SPDX-License-Identifier: Apache-2.0
// Validation throughput: one seed-like event and 100-event batches, pretty
// (the seed files' shape) and compact (what the SDKs send), by the fast path
// and by the general walk. Every input is validated and checked before timing,
// by both paths; a wrong result fails the benchmark.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"

namespace {

using namespace tg::cloudevents;

// An event shaped like tests/data/batch.json's, with a time.
std::string seed_event(int i, bool pretty) {
  char id[40];
  std::snprintf(id, sizeof id, "%08x-3b91-4639-8d81-%012x", 0x86ab0f19u + static_cast<unsigned>(i),
                static_cast<unsigned>(i) * 7919u);
  char time[32];
  std::snprintf(time, sizeof time, "2023-01-01T00:%02d:%02d.001Z", i / 60 % 60, i % 60);
  const char* paths[] = {"/", "/contact", "/home", "/api/v1/items"};
  const std::string subject = "customer-" + std::to_string(i % 1000 + 1);
  const std::string duration = std::to_string(100 + i % 900);
  std::string e;
  // Appends `"key": value` at `indent` (pretty) or compactly.
  auto kv = [&](const char* indent, const char* key, std::string_view value, bool quote, bool last) {
    if (pretty) e.append(indent);
    e.append("\"").append(key).append(pretty ? "\": " : "\":");
    if (quote) e.append("\"");
    e.append(value);
    if (quote) e.append("\"");
    if (!last) e.append(",");
  };
  const char* l1 = "\n        ";
  const char* l2 = "\n            ";
  e.append("{");
  kv(l1, "id", id, true, false);
  kv(l1, "specversion", "1.0", true, false);
  kv(l1, "type", "api-calls", true, false);
  kv(l1, "source", "api-gateway", true, false);
  kv(l1, "subject", subject, true, false);
  kv(l1, "time", time, true, false);
  kv(l1, "data", "{", false, true);
  kv(l2, "method", i % 2 ? "GET" : "POST", true, false);
  kv(l2, "path", paths[i % 4], true, false);
  kv(l2, "region", "us-east-1", true, false);
  kv(l2, "zone", "a", true, false);
  kv(l2, "duration_ms", duration, false, true);
  e.append(pretty ? "\n        }\n    }" : "}}");
  return e;
}

std::string seed_batch(int n, bool pretty) {
  std::string b = "[";
  for (int i = 0; i < n; ++i) {
    if (i) b += ",";
    if (pretty) b += "\n    ";
    b += seed_event(i, pretty);
  }
  return b + (pretty ? "\n]\n" : "]");
}

void run(benchmark::State& state, const std::string& input, media_type type, std::size_t want_events,
         bool fast_path = true) {
  std::string buf = input + std::string(64, ' ');  // simdjson padding
  std::string_view body(buf.data(), input.size());
  options opts;
  opts.fast_path = fast_path;
  validator v(opts);
  std::vector<event_ref> events;
  error err;
  if (!v.validate(body, type, api::v1, events, err)) {
    state.SkipWithError(("validation failed: " + err.detail).c_str());
    return;
  }
  if (events.size() != want_events || events.back().fix != time_fix::none ||
      body.substr(events.back().begin, 1) != "{" || body.substr(events.back().end - 1, 1) != "}") {
    state.SkipWithError("wrong events");
    return;
  }
  // Either path must find the same events (the fast path only ever accepts).
  opts.fast_path = !fast_path;
  validator other(opts);
  std::vector<event_ref> other_events;
  if (!other.validate(body, type, api::v1, other_events, err) || other_events.size() != events.size()) {
    state.SkipWithError("the two paths disagree");
    return;
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const event_ref &a = events[i], &b = other_events[i];
    if (a.begin != b.begin || a.end != b.end || a.fix != b.fix || a.at != b.at) {
      state.SkipWithError("the two paths disagree on an event");
      return;
    }
  }
  for (auto _ : state) {
    bool ok = v.validate(body, type, api::v1, events, err);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(events.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * want_events));
}

void single_event(benchmark::State& state) { run(state, seed_event(0, true), media_type::single, 1); }
void batch_100(benchmark::State& state) { run(state, seed_batch(100, true), media_type::batch, 100); }
void batch_100_compact(benchmark::State& state) { run(state, seed_batch(100, false), media_type::batch, 100); }
void json_array_100(benchmark::State& state) { run(state, seed_batch(100, false), media_type::json, 100); }
// The same batch through the general On-Demand walk alone (options::fast_path
// off): what a body with a backslash, or anything unusual, costs.
void batch_100_compact_general(benchmark::State& state) {
  run(state, seed_batch(100, false), media_type::batch, 100, false);
}

// Stamping the batch's events, as the server copies them into its ring.
void stamp_100(benchmark::State& state) {
  std::string input = seed_batch(100, false);
  std::string buf = input + std::string(64, ' ');
  std::string_view body(buf.data(), input.size());
  validator v;
  std::vector<event_ref> events;
  error err;
  if (!v.validate(body, media_type::batch, api::v1, events, err) || events.size() != 100) {
    state.SkipWithError("validation failed");
    return;
  }
  for (auto& ev : events) {  // pretend none had a time, the costlier case
    ev.fix = time_fix::insert;
    ev.at = ev.begin + 1;
  }
  std::string out(input.size() * 2, '\0');
  const std::string_view now = "2026-11-27T09:10:08.123Z";
  std::size_t want = 0, got = 0;
  for (const auto& ev : events) {
    want += stamped_size(ev);
    got += stamp(body, ev, now, out.data() + got);
  }
  if (got != want || out.compare(0, 9, "{\"time\":\"") != 0) {
    state.SkipWithError("wrong stamp");
    return;
  }
  for (auto _ : state) {
    char* o = out.data();
    for (const auto& ev : events) o += stamp(body, ev, now, o);
    benchmark::DoNotOptimize(o);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 100));
}

}  // namespace

BENCHMARK(single_event);
BENCHMARK(batch_100);
BENCHMARK(batch_100_compact);
BENCHMARK(json_array_100);
BENCHMARK(batch_100_compact_general);
BENCHMARK(stamp_100);
