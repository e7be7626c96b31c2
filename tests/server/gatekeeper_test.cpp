// SPDX-License-Identifier: Apache-2.0
// The gatekeeper around the real ingest handler, without sockets: the token
// before routing, OPTIONS and CORS, inflated bodies into the ring, parked
// requests keeping their inflated body, and the per-client counters.
#include <doctest/doctest.h>
#include <zlib.h>

#include <memory>
#include <string>

#include "gatekeeper.hpp"
#include "ingest_handler.hpp"
#include "parsed_request.hpp"

using namespace tg;
using namespace tg::server;

namespace {
using test::event_body;
using test::parsed_request;

std::string request(const std::string& method, const std::string& headers, const std::string& body = {}) {
  return method + " /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n" + headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string gzip(const std::string& in) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct fixture {
  options opts;
  ring::event_ring ring;
  probe counters;
  process_state process;
  client_registry clients;
  published<ingest_tokens> tokens;
  std::unique_ptr<gatekeeper> h;
  explicit fixture(bool auth, std::size_t ring_bytes = 1 << 16) : ring(ring_bytes) {
    opts.cors_origins = {"https://app.example"};
    process.rings.push_back(&ring);
    process.probes.push_back(&counters);
    process.clients = &clients;
    set_tokens("alice tok-a\nbob tok-b\n");
    h = std::make_unique<gatekeeper>(std::make_unique<ingest_handler>(opts, ring, counters, process, nullptr), opts,
                                     counters, auth ? &tokens : nullptr);
  }
  void set_tokens(const std::string& text) {
    auto t = std::make_shared<ingest_tokens>();
    t->table = token_table::parse(text).value();
    for (const auto& n : t->table.names()) t->slots.push_back(clients.intern(n));
    tokens.publish(t);
  }
  outcome run(const std::string& raw, std::string& out, request_context& ctx) {
    parsed_request req(raw);
    return h->handle(req.get(), http::connection::keep_alive, out, ctx);
  }
  std::string answer(const std::string& raw) {
    std::string out;
    request_context ctx;
    run(raw, out, ctx);
    return out;
  }
  std::uint64_t client_events(std::uint16_t slot) const { return counters.clients[slot].events.get(); }
};
}  // namespace

TEST_CASE("gatekeeper refuses /api/ requests without a known token before the handler sees them") {
  fixture f(true);
  const std::string out = f.answer(request("POST", "", event_body));
  CHECK(out.rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(out.find("WWW-Authenticate: Bearer\r\n") != std::string::npos);
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-\r\n", event_body)).rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(f.ring.used_bytes() == 0);
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-a\r\n", event_body)).rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(f.ring.used_bytes() > 0);
  CHECK(f.client_events(0) == 1);
  CHECK(f.counters.clients[0].requests.get() == 1);
  CHECK(f.counters.refusals[static_cast<std::size_t>(refusal::unauthorized)].get() == 2);
}

TEST_CASE("a published token table is used from the next request on") {
  fixture f(true);
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-c\r\n", event_body)).rfind("HTTP/1.1 401 ", 0) == 0);
  f.set_tokens("carol tok-c\n");
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-c\r\n", event_body)).rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-a\r\n", event_body)).rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(f.client_events(f.clients.intern("carol")) == 1);
  // A token that matched (and is cached) stops working once a table without it is published.
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-c\r\n", event_body)).rfind("HTTP/1.1 204 ", 0) == 0);
  f.set_tokens("dave tok-d\n");
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-c\r\n", event_body)).rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(f.answer(request("POST", "Authorization: Bearer tok-d\r\n", event_body)).rfind("HTTP/1.1 204 ", 0) == 0);
}

TEST_CASE("without tokens the certificate's client is counted; OPTIONS needs no token") {
  fixture f(false);
  std::string out;
  request_context ctx;
  ctx.peer_client = f.clients.intern("cert-cn");
  CHECK(f.run(request("POST", "", event_body), out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(f.client_events(ctx.peer_client) == 1);
  fixture g(true);
  const std::string opt = g.answer(request("OPTIONS", "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n"));
  CHECK(opt.rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(opt.find("Allow: POST, OPTIONS\r\n") != std::string::npos);
  CHECK(opt.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
}

TEST_CASE("a gzip body is inflated into the ring; a parked one keeps its inflated body until admitted") {
  fixture f(false, 4096);
  const std::string z = gzip(event_body);
  std::string out;
  request_context ctx;
  CHECK(f.run(request("POST", "Content-Encoding: gzip\r\n", z), out, ctx) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 204 ", 0) == 0);
  ring::event_ring::record rec;
  REQUIRE(f.ring.read(f.ring.read_begin(), rec));
  CHECK(std::string(rec.bytes.data(), rec.bytes.size()) == event_body);

  // Fill the ring past its high watermark: the next request parks.
  while (f.ring.try_reserve(64) != nullptr) f.ring.commit();
  parsed_request req(request("POST", "Content-Encoding: gzip\r\nOrigin: https://app.example\r\n", z));
  out.clear();
  request_context parked;
  CHECK(f.h->handle(req.get(), http::connection::keep_alive, out, parked) == outcome::park);
  CHECK(out.empty());
  REQUIRE(parked.kept);
  // Another compressed request in between reuses the gatekeeper's buffer.
  while (f.ring.read(f.ring.read_begin(), rec)) f.ring.release(rec.next);
  std::string other;
  request_context octx;
  CHECK(f.run(request("POST", "Content-Encoding: gzip\r\n", gzip(R"({"specversion":"1.0","id":"zz","source":"s","type":"t","subject":"c","time":"2026-01-01T00:00:00Z"})")), other, octx) == outcome::answered);
  CHECK(other.rfind("HTTP/1.1 204 ", 0) == 0);
  request_context retry;
  retry.kept = std::move(parked.kept);
  out.clear();
  CHECK(f.h->handle(req.get(), http::connection::keep_alive, out, retry) == outcome::answered);
  CHECK(out.rfind("HTTP/1.1 204 ", 0) == 0);
  CHECK(out.find("Access-Control-Allow-Origin: https://app.example\r\n") != std::string::npos);
  std::string last;
  for (std::uint64_t pos = f.ring.read_begin(); f.ring.read(pos, rec); pos = rec.next) last.assign(rec.bytes.data(), rec.bytes.size());
  CHECK(last == event_body);
}

TEST_CASE("unsupported and corrupt encodings are refused with their own rows") {
  fixture f(false);
  CHECK(f.answer(request("POST", "Content-Encoding: br\r\n", event_body)).rfind("HTTP/1.1 415 ", 0) == 0);
  CHECK(f.answer(request("POST", "Content-Encoding: gzip\r\n", event_body)).rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(f.counters.refusals[static_cast<std::size_t>(refusal::corrupt_encoding)].get() == 1);
  CHECK(f.counters.refusals[static_cast<std::size_t>(refusal::unsupported_encoding)].get() == 1);
}
