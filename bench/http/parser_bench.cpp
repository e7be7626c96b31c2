// SPDX-License-Identifier: Apache-2.0
// Cost of the HTTP layer per request on the ingest hot path: parsing a typical
// SDK POST (alone and 16 pipelined in one receive buffer) and writing the 204
// that answers it. Each benchmark checks what it parsed or wrote, so a faster
// but wrong change fails instead of looking good.
#include <benchmark/benchmark.h>

#include <string>

#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response.hpp"

namespace {

using namespace tg::http;

std::string sdk_body() {
  std::string b =
      R"({"specversion":"1.0","id":"5c10fade-1c9e-4d6c-8275-c52c36731d3d","source":"service-0",)"
      R"("type":"api-calls","subject":"customer-1","time":"2023-01-01T00:00:00.001Z",)"
      R"("datacontenttype":"application/json","data":{"method":"GET","route":"/hello",)"
      R"("duration_ms":40,"region":"us-east-1","zone":"us-east-1a","status":200,"bytes":1024}})";
  return b;
}

std::string sdk_request() {
  std::string body = sdk_body();
  return "POST /api/v1/events HTTP/1.1\r\n"
         "Host: openmeter.example.com\r\n"
         "User-Agent: openmeter-go/1.0.0 (linux; amd64)\r\n"
         "Accept: application/json\r\n"
         "Accept-Encoding: gzip\r\n"
         "Content-Type: application/cloudevents+json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n"
         "Authorization: Bearer om_7yQ2mC1dX4bF9kLpR3sT6vW8zA0eH5jN\r\n"
         "\r\n" + body;
}

// Parses `n` requests from `buf`; returns false if any is not the one expected.
bool parse_all(request_parser& p, const std::string& buf, int n, std::size_t body_size) {
  std::span<const char> rest(buf.data(), buf.size());
  for (int i = 0; i < n; ++i) {
    feed_result r = p.feed(rest);
    if (r.ev != event::head_complete) return false;
    rest = rest.subspan(r.consumed);
    r = p.feed(rest);
    if (r.ev != event::message_complete) return false;
    rest = rest.subspan(r.consumed);
    const request& q = p.current();
    if (q.verb != method::post || q.body.size() != body_size || q.authorization.size() != 42 ||
        q.content_type != "application/cloudevents+json")
      return false;
    benchmark::DoNotOptimize(q.body.data());
    p.next();
  }
  return rest.empty();
}

void run_parse(benchmark::State& state, int pipelined) {
  std::string one = sdk_request();
  std::string buf;
  for (int i = 0; i < pipelined; ++i) buf += one;
  std::size_t body_size = sdk_body().size();
  request_parser p;
  for (auto _ : state) {
    if (!parse_all(p, buf, pipelined, body_size)) {
      state.SkipWithError("request not parsed as expected");
      return;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
  state.SetItemsProcessed(state.iterations() * pipelined);
}

void bm_parse_sdk_post(benchmark::State& state) { run_parse(state, 1); }
void bm_parse_sdk_post_pipelined16(benchmark::State& state) { run_parse(state, 16); }

void bm_write_204(benchmark::State& state) {
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    write_empty(out, 204, connection::keep_alive);
    benchmark::DoNotOptimize(out.data());
  }
  if (out != "HTTP/1.1 204 No Content\r\n\r\n") state.SkipWithError("wrong 204 bytes");
  state.SetItemsProcessed(state.iterations());
}

void bm_write_problem_400(benchmark::State& state) {
  std::string out;
  out.reserve(512);
  for (auto _ : state) {
    out.clear();
    write_problem(out, 400, "invalid event at index 3: subject is missing", connection::keep_alive);
    benchmark::DoNotOptimize(out.data());
  }
  if (out.find("\"detail\":\"invalid event at index 3: subject is missing\"}") == std::string::npos)
    state.SkipWithError("wrong problem body");
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(bm_parse_sdk_post);
BENCHMARK(bm_parse_sdk_post_pipelined16);
BENCHMARK(bm_write_204);
BENCHMARK(bm_write_problem_400);

}  // namespace
