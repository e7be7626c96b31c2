// SPDX-License-Identifier: Apache-2.0
// The ingest handler's decisions, without sockets: a parsed request in, an
// answer (or park / await) out, the ring and the probe checked.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "ingest_handler.hpp"
#include "parsed_request.hpp"

using namespace tg;
using namespace tg::server;

namespace {
using test::event_body;
using test::parsed_request;

std::string post(const std::string& path, const std::string& type, const std::string& body) {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Fills the ring to the last byte a small record can take.
void fill(ring::event_ring& r) {
  while (r.try_reserve(8) != nullptr) r.commit();
}

struct fixture {
  options opts;
  ring::event_ring ring;
  probe counters;
  process_state process;
  std::unique_ptr<ingest_handler> h;
  explicit fixture(std::size_t ring_bytes = 1 << 16, when_full full = when_full::wait, ack_mode ack = ack_mode::buffered)
      : ring(ring_bytes) {
    opts.full = full;
    opts.ack = ack;
    process.rings.push_back(&ring);
    process.probes.push_back(&counters);
    h = std::make_unique<ingest_handler>(opts, ring, counters, process, nullptr);
  }
  outcome run(const std::string& raw, std::string& out, request_context& ctx) {
    parsed_request req(raw);
    return h->handle(req.get(), http::connection::keep_alive, out, ctx);
  }
  std::uint64_t refused(refusal r) const { return counters.refusals[static_cast<std::size_t>(r)].get(); }
};
}  // namespace

TEST_CASE("ingest handler admits a valid event into the ring and answers 204") {
  fixture f;
  std::string out;
  request_context ctx;
  CHECK(f.run(post("/api/v1/events", "application/cloudevents+json", event_body), out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(f.counters.events_accepted.get() == 1);
  CHECK_FALSE(f.ring.empty());
}

TEST_CASE("ingest handler answers 202 on the v3 path") {
  fixture f;
  std::string out;
  request_context ctx;
  CHECK(f.run(post("/api/v3/openmeter/events", "application/cloudevents+json", event_body), out, ctx) ==
        outcome::answered);
  CHECK(out.rfind("HTTP/1.1 202 ", 0) == 0);
}

TEST_CASE("ingest handler refuses an invalid event with the validator's detail and counts it") {
  fixture f;
  std::string out;
  request_context ctx;
  f.run(post("/api/v1/events", "application/cloudevents+json", R"({"specversion":"1.0","id":"1","source":"s","type":"t"})"),
        out, ctx);
  CHECK(out.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(out.find("subject is missing") != std::string::npos);
  CHECK(f.refused(refusal::invalid_event) == 1);
  CHECK(f.ring.empty());
}

TEST_CASE("ingest handler answers 405 with Allow on the wrong method and 404 on an unknown path") {
  fixture f;
  std::string out;
  request_context ctx;
  f.run("PUT /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", out, ctx);
  CHECK(out.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(out.find("Allow: POST\r\n") != std::string::npos);
  out.clear();
  f.run("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx);
  CHECK(out.rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(out.find("no route for /nope") != std::string::npos);
}

TEST_CASE("ingest handler parks a request the ring cannot take, keeps its validated events, and admits it later") {
  fixture f(4096);
  std::string batch = "[";
  for (int i = 0; i < 20; ++i) {
    if (i > 0) batch += ",";
    batch += R"({"specversion":"1.0","id":"e)" + std::to_string(i) + R"(","source":"s","type":"t","subject":"c"})";
  }
  batch += "]";
  const std::string raw = post("/api/v1/events", "application/cloudevents-batch+json", batch);
  // Fill the ring first.
  std::string filler(3000, 'x');
  char* dst = f.ring.try_reserve(filler.size());
  REQUIRE(dst != nullptr);
  f.ring.commit();

  parsed_request req(raw);
  std::string out;
  request_context ctx;
  CHECK(f.h->handle(req.get(), http::connection::keep_alive, out, ctx) == outcome::park);
  CHECK(out.empty());
  CHECK(ctx.kept != nullptr);
  CHECK(ctx.park_bytes > 0);

  // The output frees the ring; the retry only retries admission.
  f.ring.release(f.ring.committed_end());
  request_context retry;
  retry.kept = std::move(ctx.kept);
  CHECK(f.h->handle(req.get(), http::connection::keep_alive, out, retry) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(f.counters.events_accepted.get() == 20);
}

TEST_CASE("ingest handler answers 503 with Retry-After once a parked request's admit timeout passed") {
  fixture f(4096);
  fill(f.ring);
  std::string out;
  request_context ctx;
  ctx.admit_expired = true;
  f.run(post("/api/v1/events", "application/cloudevents+json", event_body), out, ctx);
  CHECK(out.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(out.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(f.refused(refusal::buffer_full) == 1);
}

TEST_CASE("ingest handler answers 429 at once with --when-full reject") {
  fixture f(4096, when_full::reject);
  fill(f.ring);
  std::string out;
  request_context ctx;
  CHECK(f.run(post("/api/v1/events", "application/cloudevents+json", event_body), out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 429 ", 0) == 0);
  CHECK(f.refused(refusal::buffer_full_now) == 1);
}

TEST_CASE("ingest handler with --ack upstream admits and waits for the ring to free the events") {
  fixture f(1 << 16, when_full::wait, ack_mode::upstream);
  std::string out;
  request_context ctx;
  CHECK(f.run(post("/api/v1/events", "application/cloudevents+json", event_body), out, ctx) == outcome::await_ack);
  CHECK(out.empty());
  CHECK(ctx.wait == ack_wait::ring_released);
  CHECK(ctx.ack_position == f.ring.committed_end());
  CHECK(ctx.ack_status == 204);
}

TEST_CASE("ingest handler serves health, readiness and metrics") {
  fixture f;
  std::string out;
  request_context ctx;
  f.run("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx);
  CHECK(out.rfind("HTTP/1.1 200 ", 0) == 0);
  out.clear();
  f.process.stopping = true;
  f.run("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx);
  CHECK(out.rfind("HTTP/1.1 503 ", 0) == 0);
  out.clear();
  f.run("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx);
  CHECK(out.find("tollgate_ready 0\n") != std::string::npos);
}

TEST_CASE("ingest handler passes the rest of /api/ (GET /api/v1/events included) to the pass-through") {
  fixture f;
  std::string out;
  request_context ctx;
  ctx.can_pass = true;
  CHECK(f.run("GET /api/v1/events?limit=10 HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::pass);
  CHECK(f.run("GET /api/v1/meters HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::pass);
  CHECK(f.run(post("/api/v1/meters/m/query", "application/json", "{}"), out, ctx) == outcome::pass);
  CHECK(f.run("DELETE /api/v2/customers/c1 HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::pass);
  CHECK(out.empty());
  // Ingest stays tollgate's own, and so do paths outside /api/.
  CHECK(f.run(post("/api/v1/events", "application/cloudevents+json", event_body), out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 204 ", 0) == 0);
  out.clear();
  CHECK(f.run("GET /apiary HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 404 ", 0) == 0);
}

TEST_CASE("ingest handler: no pass-through means 404 saying there is no upstream API; --proxy off keeps today's answers") {
  fixture f;
  std::string out;
  request_context ctx;  // can_pass false: a stdout or file: output
  CHECK(f.run("GET /api/v1/meters HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 404 ", 0) == 0);
  CHECK(out.find("no upstream API") != std::string::npos);
  CHECK(f.refused(refusal::no_upstream_api) == 1);
  out.clear();
  f.opts.proxy = proxy_mode::off;
  ctx.can_pass = true;
  CHECK(f.run("GET /api/v1/meters HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::answered);
  CHECK(out.find("no route for /api/v1/meters") != std::string::npos);
  out.clear();
  CHECK(f.run("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n", out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 405 ", 0) == 0);
}

TEST_CASE("ingest handler refuses a body over --proxy-max-body-bytes before passing it on") {
  fixture f;
  f.opts.proxy_max_body_bytes = 16;
  std::string out;
  request_context ctx;
  ctx.can_pass = true;
  CHECK(f.run(post("/api/v1/meters/m/query", "application/json", std::string(17, ' ')), out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(out.find("--proxy-max-body-bytes") != std::string::npos);
  out.clear();
  CHECK(f.run(post("/api/v1/meters/m/query", "application/json", std::string(16, ' ')), out, ctx) == outcome::pass);
}
