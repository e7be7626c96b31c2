// SPDX-License-Identifier: Apache-2.0
// Mapped events per second for the issue's LLM route (1 and 100 requests per
// body), beside the structured path: the validator over the equivalent
// CloudEvents. Also: the webhook route ({#hash}, {} as data) and the floor of a DOM
// engine, the measurement behind choosing On-Demand. Every output
// is compared byte for byte with events built here independently (snprintf,
// gmtime_r) and passed through the validator before timing, and checked again
// after; a mismatch fails the run (exit 1), it is not just reported.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/mapping/mapper.hpp"
#include "tollgate/mapping/routes.hpp"

namespace {

using namespace tg;

const char* const routes_json = R"({"routes": [
  {"path": "/ingest/llm-usage", "each": "{/requests}",
   "event": {"id": "{/request_id}", "type": "llm-tokens", "source": "gateway-{/region}",
             "subject": "{/user}", "time": "{/created}", "time_format": "unix_s",
             "data": {"model": "{/model}", "prompt_tokens": "{/usage/prompt_tokens}"}}},
  {"path": "/ingest/webhook",
   "event": {"id": "{#hash}", "type": "webhook.{/kind}", "source": "hooks", "subject": "{/account}", "data": "{}"}}
]})";

const char* const models[] = {"gpt-4o", "gpt-4o-mini", "o1", "claude-3-5-sonnet"};
const char* const regions[] = {"eu-west-1", "us-east-1", "ap-south-1"};

// One LLM proxy report per request, as a proxy logs it: more fields than the
// route uses, so the engine has to skip (and check) them.
struct llm_case {
  std::string body;      // {"batch_id":...,"requests":[...]}
  std::string expected;  // the mapped JSON array, built independently
};

llm_case llm(int n) {
  llm_case c;
  c.body.append(R"({"batch_id":"b-7","proxy":"litellm","requests":[)");
  c.expected.push_back('[');
  for (int i = 0; i < n; ++i) {
    const long created = 1712345678L + i * 7L;
    const int prompt = 100 + (i * 37) % 4000, completion = 20 + (i * 11) % 900;
    char id[32], user[32], el[512];
    std::snprintf(id, sizeof id, "chatcmpl-%08x", 0x9a3c0000u + static_cast<unsigned>(i));
    std::snprintf(user, sizeof user, "customer-%d", i % 50);
    std::snprintf(el, sizeof el,
                  "{\"request_id\":\"%s\",\"created\":%ld,\"model\":\"%s\",\"region\":\"%s\",\"user\":\"%s\","
                  "\"status\":200,\"latency_ms\":%d,\"stream\":false,"
                  "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}}",
                  id, created, models[i % 4], regions[i % 3], user, 300 + i % 700, prompt, completion,
                  prompt + completion);
    if (i) c.body += ",";
    c.body += el;
    std::tm tm{};
    const time_t t = static_cast<time_t>(created);
    gmtime_r(&t, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    char ev[512];
    std::snprintf(ev, sizeof ev,
                  "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"gateway-%s\",\"type\":\"llm-tokens\","
                  "\"subject\":\"%s\",\"time\":\"%s\",\"data\":{\"model\":\"%s\",\"prompt_tokens\":%d}}",
                  id, regions[i % 3], user, when, models[i % 4], prompt);
    if (i) c.expected += ",";
    c.expected += ev;
  }
  c.body += "]}";
  c.expected += "]";
  return c;
}

// Fails the run (see main) and says why.
bool check(benchmark::State& state, bool ok, const std::string& why) {
  if (!ok) state.SkipWithError(why.c_str());
  return ok;
}

struct fixture {
  mapping::route_table table;
  std::string buf;  // body + padding
  std::string_view body;
};

bool setup(benchmark::State& state, fixture& f, const std::string& body) {
  auto t = mapping::parse_routes(routes_json);
  if (!check(state, t.has_value(), t ? "" : "routes: " + t.error())) return false;
  f.table = *t;
  f.buf = body + std::string(64, ' ');
  f.body = std::string_view(f.buf.data(), body.size());
  return true;
}

// The mapped output must be the independently built events and pass the validator.
bool verify(benchmark::State& state, const mapping::output& out, const std::string& expected, std::size_t n) {
  if (!check(state, out.events == n && out.json() == expected, "mapped events differ from the expected ones")) {
    return false;
  }
  cloudevents::validator v;
  std::vector<cloudevents::event_ref> refs;
  cloudevents::error err;
  return check(state,
               v.validate(out.json(), cloudevents::media_type::batch, cloudevents::api::v1, refs, err) &&
                   refs.size() == n,
               "validator refused the mapped events: " + err.detail);
}

// Mapping only.
void map_llm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const llm_case c = llm(n);
  fixture f;
  if (!setup(state, f, c.body)) return;
  const mapping::route* r = f.table.find("/ingest/llm-usage");
  mapping::mapper m;
  mapping::output out;
  mapping::error err;
  if (!check(state, m.map(*r, f.body, out, err), "map failed: " + err.detail) || !verify(state, out, c.expected, n)) return;
  std::size_t events = 0;
  for (auto _ : state) {
    m.map(*r, f.body, out, err);
    events += out.events;
    benchmark::DoNotOptimize(out.buf.data());
  }
  if (!check(state, events == static_cast<std::size_t>(state.iterations()) * static_cast<std::size_t>(n), "an iteration mapped the wrong count") ||
      !verify(state, out, c.expected, n)) {
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * f.body.size()));
}

// What a mapped request costs the ingest path before the ring: map, then the
// same validator as every structured request.
void map_validate_llm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const llm_case c = llm(n);
  fixture f;
  if (!setup(state, f, c.body)) return;
  const mapping::route* r = f.table.find("/ingest/llm-usage");
  mapping::mapper m;
  mapping::output out;
  mapping::error err;
  cloudevents::validator v;
  std::vector<cloudevents::event_ref> refs;
  cloudevents::error verr;
  if (!check(state, m.map(*r, f.body, out, err), "map failed: " + err.detail) || !verify(state, out, c.expected, n)) return;
  std::size_t events = 0;
  for (auto _ : state) {
    m.map(*r, f.body, out, err);
    v.validate(out.json(), cloudevents::media_type::batch, cloudevents::api::v1, refs, verr);
    events += refs.size();
    benchmark::DoNotOptimize(refs.data());
  }
  if (!check(state, events == static_cast<std::size_t>(state.iterations()) * static_cast<std::size_t>(n), "an iteration validated the wrong count")) {
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * f.body.size()));
}

// The baseline: the equivalent structured events (the expected output itself)
// through the validator, as a client that sends CloudEvents would.
void structured_validate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const llm_case c = llm(n);
  std::string buf = c.expected + std::string(64, ' ');
  std::string_view body(buf.data(), c.expected.size());
  cloudevents::validator v;
  std::vector<cloudevents::event_ref> refs;
  cloudevents::error err;
  if (!check(state, v.validate(body, cloudevents::media_type::batch, cloudevents::api::v1, refs, err) &&
                        refs.size() == static_cast<std::size_t>(n),
             "validator refused the structured events: " + err.detail)) {
    return;
  }
  std::size_t events = 0;
  for (auto _ : state) {
    v.validate(body, cloudevents::media_type::batch, cloudevents::api::v1, refs, err);
    events += refs.size();
    benchmark::DoNotOptimize(refs.data());
  }
  if (!check(state, events == static_cast<std::size_t>(state.iterations()) * static_cast<std::size_t>(n), "an iteration validated the wrong count")) {
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

// The webhook route: the whole body as data and a SHA-256 id per event.
void map_webhook(benchmark::State& state) {
  const std::string body = R"({"kind":"invoice.paid","account":"acme-corp","amount":1299,"currency":"EUR",)"
                           R"("lines":[{"sku":"pro","qty":3},{"sku":"seats","qty":12}],"created":"2024-04-05T19:34:38Z"})";
  // python3: hashlib.sha256(b"/ingest/webhook\x00" + body).hexdigest()[:32], body the bytes above
  const std::string expected = R"([{"specversion":"1.0","id":"a7e869a398227c1277211ac6589531a1","source":"hooks",)"
                               R"("type":"webhook.invoice.paid","subject":"acme-corp","data":)" + body + "}]";
  fixture f;
  if (!setup(state, f, body)) return;
  const mapping::route* r = f.table.find("/ingest/webhook");
  mapping::mapper m;
  mapping::output out;
  mapping::error err;
  if (!check(state, m.map(*r, f.body, out, err), "map failed: " + err.detail) || !verify(state, out, expected, 1)) return;
  std::size_t events = 0;
  for (auto _ : state) {
    m.map(*r, f.body, out, err);
    events += out.events;
    benchmark::DoNotOptimize(out.buf.data());
  }
  if (!check(state, events == static_cast<std::size_t>(state.iterations()), "an iteration mapped the wrong count") || !verify(state, out, expected, 1)) {
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}

// A DOM engine's floor: parse the body into simdjson's DOM (which checks all
// of it), then find the route's six values per element in one pass over its
// members, as the On-Demand engine does. Nothing is written, and a DOM keeps
// parsed numbers and unescaped strings, not their text: an engine on it would
// also pay to format them again (and would change `1.50` to `1.5`).
void dom_floor_llm(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const llm_case c = llm(n);
  simdjson::padded_string body(c.body);
  simdjson::dom::parser parser;
  auto run = [&](std::size_t& found) {
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc)) return false;
    simdjson::dom::array reqs;
    if (doc["requests"].get_array().get(reqs)) return false;
    for (simdjson::dom::element el : reqs) {
      simdjson::dom::object obj;
      if (el.get_object().get(obj)) return false;
      for (auto [key, value] : obj) {
        if (key == "request_id" || key == "region" || key == "user" || key == "created" || key == "model") {
          ++found;
          benchmark::DoNotOptimize(value);
        } else if (key == "usage") {
          simdjson::dom::object usage;
          if (value.get_object().get(usage)) return false;
          for (auto [k, v] : usage) {
            if (k == "prompt_tokens") {
              ++found;
              benchmark::DoNotOptimize(v);
            }
          }
        }
      }
    }
    return true;
  };
  std::size_t found = 0;
  if (!check(state, run(found) && found == 6u * static_cast<std::size_t>(n), "DOM pass found the wrong values")) return;
  found = 0;
  for (auto _ : state) run(found);
  if (!check(state, found == static_cast<std::size_t>(state.iterations()) * 6u * static_cast<std::size_t>(n),
             "DOM pass found the wrong count")) {
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * static_cast<std::int64_t>(c.body.size())));
}

// Console output as usual, and a record of whether any benchmark failed its check.
class failing_reporter : public benchmark::ConsoleReporter {
 public:
  bool failed = false;
  void ReportRuns(const std::vector<Run>& reports) override {
    for (const Run& r : reports) failed = failed || r.error_occurred;
    ConsoleReporter::ReportRuns(reports);
  }
};

}  // namespace

BENCHMARK(map_llm)->Arg(1)->Arg(100);
BENCHMARK(map_validate_llm)->Arg(1)->Arg(100);
BENCHMARK(structured_validate)->Arg(1)->Arg(100);
BENCHMARK(dom_floor_llm)->Arg(1)->Arg(100);
BENCHMARK(map_webhook);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  failing_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (reporter.failed) {
    std::fprintf(stderr, "mapping_bench: a benchmark failed its own check\n");
    return 1;
  }
  return 0;
}
