// SPDX-License-Identifier: Apache-2.0
// Cost of assembling one upstream request from the ring: 500 accepted events
// of ~260 bytes as the pieces of a gather write (head, events, separators),
// as the forwarder sends them. The joined pieces are checked before timing (a
// valid JSON array of exactly those events, a matching Content-Length)
// against a naive reference, so a faster but wrong change fails.
#include <benchmark/benchmark.h>

#include <simdjson.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tollgate/output/http/batch_request.hpp"

namespace {

using tg::ring::event_ring;

constexpr int batch_events = 500;

// Seed-generator events (api-calls from api-gateway), ~260 bytes, unique ids.
std::string event(int i) {
  const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
  const char* paths[] = {"/", "/docs", "/api/v1/items", "/contact"};
  const char* regions[] = {"us-east-1", "us-east-2", "eu-west-1", "ap-south-1"};
  char buf[512];
  const int n = std::snprintf(
      buf, sizeof buf,
      R"({"id":"%08x-6513-470e-a69e-%012x","specversion":"1.0","type":"api-calls","source":"api-gateway",)"
      R"("subject":"customer-%d","time":"2026-11-24T02:%02d:%02d.%03dZ","data":{"method":"%s","path":"%s",)"
      R"("region":"%s","zone":"%sa","duration_ms":%d}})",
      0xa6a3a450u + static_cast<unsigned>(i), static_cast<unsigned>(i) * 7919u, i % 100, i / 60 % 60, i % 60,
      i % 1000, methods[i % 4], paths[i / 4 % 4], regions[i % 4], regions[i % 4], 100 + i * 37 % 900);
  return std::string(buf, static_cast<std::size_t>(n));
}

const std::string head_prefix =
    "POST /api/v1/events HTTP/1.1\r\nHost: openmeter.example.com\r\n"
    "Content-Type: application/cloudevents-batch+json\r\n"
    "Authorization: Bearer om_7yQ2mC1dX4bF9kLpR3sT6vW8zA0eH5jN\r\n"
    "Content-Length: ";

// What the request must be, built the obvious way.
std::string reference(const std::vector<std::string>& events) {
  std::string body = "[";
  for (std::size_t i = 0; i < events.size(); ++i) body += (i ? "," : "") + events[i];
  body += "]";
  return head_prefix + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The request's body parses as a JSON array of `n` objects whose ids are the
// events' ids in order.
bool valid_json_array(const std::string& request, const std::vector<std::string>& events) {
  const std::size_t at = request.find("\r\n\r\n");
  if (at == std::string::npos) return false;
  simdjson::padded_string body(request.substr(at + 4));
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(body).get(doc)) return false;
  simdjson::ondemand::array arr;
  if (doc.get_array().get(arr)) return false;
  std::size_t i = 0;
  for (auto v : arr) {
    simdjson::ondemand::object o;
    std::string_view id;
    if (v.get_object().get(o) || o["id"].get_string().get(id)) return false;
    if (i >= events.size() || events[i].find(id) == std::string::npos) return false;
    ++i;
  }
  return i == events.size();  // trailing bytes are ruled out by the reference comparison
}

std::string joined(tg::upstream::gather_request& g) {
  std::string out;
  for (const iovec& v : g.rest()) out.append(static_cast<const char*>(v.iov_base), v.iov_len);
  return out;
}

void bm_build_batch_request(benchmark::State& state) {
  std::vector<std::string> events;
  std::size_t event_bytes = 0;
  event_ring ring(1 << 20);
  const std::uint64_t begin = ring.read_begin();
  for (int i = 0; i < batch_events; ++i) {
    events.push_back(event(i));
    event_bytes += events.back().size();
    char* p = ring.try_reserve(events.back().size());
    if (p == nullptr) {
      state.SkipWithError("ring too small for the batch");
      return;
    }
    std::memcpy(p, events.back().data(), events.back().size());
  }
  ring.commit();
  const std::uint64_t end = ring.committed_end();

  tg::upstream::gather_request g;
  const bool built = g.build(ring, begin, end, head_prefix) == batch_events;
  const std::string out = joined(g);
  if (!built || out != reference(events) || !valid_json_array(out, events) || g.bytes() != out.size()) {
    state.SkipWithError("batch request is not the events joined into a JSON array");
    return;
  }
  for (auto _ : state) {
    const std::uint32_t n = g.build(ring, begin, end, head_prefix);
    benchmark::DoNotOptimize(g.rest().data());
    if (n != batch_events) {
      state.SkipWithError("wrong number of events");
      return;
    }
  }
  state.counters["request_bytes"] = static_cast<double>(out.size());
  state.counters["event_bytes_avg"] = static_cast<double>(event_bytes) / batch_events;
  state.SetItemsProcessed(state.iterations() * batch_events);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

}  // namespace

BENCHMARK(bm_build_batch_request);
