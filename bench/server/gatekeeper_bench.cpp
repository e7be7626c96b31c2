// SPDX-License-Identifier: Apache-2.0
// What the token check costs on the single-event path: the real gatekeeper
// around the real ingest handler (validate, stamp, admit into a ring), one
// SDK-sized event per request, without and with --ingest-tokens-file (16
// clients), and the lookup alone (hit and miss). Every request's answer is
// checked (204, or 401 for the miss), so a faster but wrong check fails.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "gatekeeper.hpp"
#include "ingest_handler.hpp"

namespace {

using namespace tg;
using namespace tg::server;

const std::string body =
    R"({"specversion":"1.0","id":"5c10fade-1c9e-4d6c-8275-c52c36731d3d","source":"service-0",)"
    R"("type":"api-calls","subject":"customer-1","time":"2023-01-01T00:00:00.001Z",)"
    R"("datacontenttype":"application/json","data":{"method":"GET","route":"/hello",)"
    R"("duration_ms":40,"region":"us-east-1","zone":"us-east-1a","status":200,"bytes":1024}})";

std::string tokens_text() {
  std::string t;
  for (int i = 0; i < 16; ++i) t += "client-" + std::to_string(i) + " om_token_" + std::to_string(i) + "_7yQ2mC1dX4bF9kLpR3sT6vW8\n";
  return t;
}

struct rig {
  options opts;
  ring::event_ring ring{64u << 20};
  probe counters;
  process_state process;
  client_registry clients;
  published<ingest_tokens> tokens;
  std::unique_ptr<gatekeeper> h;
  http::request_parser parser;

  explicit rig(bool auth, const std::string& token) {
    process.rings.push_back(&ring);
    process.probes.push_back(&counters);
    process.clients = &clients;
    auto t = std::make_shared<ingest_tokens>();
    t->table = token_table::parse(tokens_text()).value();
    for (const auto& n : t->table.names()) t->slots.push_back(clients.intern(n));
    tokens.publish(t);
    h = std::make_unique<gatekeeper>(std::make_unique<ingest_handler>(opts, ring, counters, process, nullptr), opts,
                                     counters, auth ? &tokens : nullptr);
    const std::string raw = "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n"
                            "Authorization: Bearer " + token + "\r\nContent-Length: " + std::to_string(body.size()) +
                            "\r\n\r\n" + body;
    auto r = parser.feed({raw.data(), raw.size()});
    r = parser.feed({raw.data() + r.consumed, raw.size() - r.consumed});
    if (r.ev != http::event::message_complete) std::abort();
  }
};

void run(benchmark::State& state, bool auth, const std::string& token, const char* expect) {
  rig r(auth, token);
  std::string out;
  ring::event_ring::record rec;
  for (auto _ : state) {
    out.clear();
    request_context ctx;
    r.h->handle(r.parser.current(), http::connection::keep_alive, out, ctx);
    if (out.compare(0, 12, expect) != 0) {
      state.SkipWithError("unexpected answer");
      break;
    }
    // The output's part: free what was admitted, so the ring never fills.
    while (r.ring.read(r.ring.read_begin(), rec)) r.ring.release(rec.next);
  }
}

void bm_single_event_open(benchmark::State& s) { run(s, false, "om_token_3_7yQ2mC1dX4bF9kLpR3sT6vW8", "HTTP/1.1 204"); }
void bm_single_event_token(benchmark::State& s) { run(s, true, "om_token_3_7yQ2mC1dX4bF9kLpR3sT6vW8", "HTTP/1.1 204"); }
void bm_single_event_bad_token(benchmark::State& s) { run(s, true, "om_token_3_7yQ2mC1dX4bF9kLpR3sT6vW9", "HTTP/1.1 401"); }

void bm_token_lookup(benchmark::State& state) {
  auto t = token_table::parse(tokens_text()).value();
  sha256_hasher h;
  const std::string hit = "om_token_11_7yQ2mC1dX4bF9kLpR3sT6vW8";
  for (auto _ : state) {
    const int c = t.find(hit, h);
    if (c != 11) {
      state.SkipWithError("wrong client");
      break;
    }
    benchmark::DoNotOptimize(c);
  }
}

}  // namespace

BENCHMARK(bm_single_event_open);
BENCHMARK(bm_single_event_token);
BENCHMARK(bm_single_event_bad_token);
BENCHMARK(bm_token_lookup);


