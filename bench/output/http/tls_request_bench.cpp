// SPDX-License-Identifier: Apache-2.0
// Cost of encrypting one upstream request of 500 ~260-byte events over TLS,
// the two ways a link can: from pieces that point into the ring, with the
// ciphertext taken from the session's send buffer as it is (what links do),
// against joining the request into a string first and copying the ciphertext
// out into a wire string (what they did before). Checked before timing: a
// server session decrypts each way's ciphertext to exactly the request.
#include <benchmark/benchmark.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "tollgate/output/http/batch_request.hpp"
#include "tollgate/output/http/tls_session.hpp"

namespace {

using tg::ring::event_ring;
using tg::upstream::gather_request;
using tg::upstream::tls_context;
using tg::upstream::tls_session;
using tg::upstream::tls_status;

constexpr int batch_events = 500;
constexpr std::size_t send_buffer = 256 * 1024;  // as the links' (link.hpp)

std::string event(int i) {
  char buf[512];
  const int n = std::snprintf(
      buf, sizeof buf,
      R"({"id":"%08x-6513-470e-a69e-%012x","specversion":"1.0","type":"api-calls","source":"api-gateway",)"
      R"("subject":"customer-%d","time":"2026-11-24T02:%02d:%02d.%03dZ","data":{"method":"GET","path":"/docs",)"
      R"("region":"us-east-1","zone":"us-east-1a","duration_ms":%d}})",
      0xa6a3a450u + static_cast<unsigned>(i), static_cast<unsigned>(i) * 7919u, i % 100, i / 60 % 60, i % 60,
      i % 1000, 100 + i * 37 % 900);
  return std::string(buf, static_cast<std::size_t>(n));
}

const std::string head_prefix =
    "POST /api/v1/events HTTP/1.1\r\nHost: openmeter.example.com\r\n"
    "Content-Type: application/cloudevents-batch+json\r\nContent-Length: ";

// A self-signed certificate and key in a temporary directory, for the server
// side of the check.
struct server_files {
  std::string dir, cert, key;
  server_files() {
    char tmpl[] = "/tmp/tollgate-tls-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir = tmpl;
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    EVP_PKEY* k = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, k);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_sign(x, k, EVP_sha256());
    FILE* f = std::fopen(cert.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(key.c_str(), "w");
    PEM_write_PrivateKey(f, k, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
  }
  ~server_files() {
    std::remove(cert.c_str());
    std::remove(key.c_str());
    ::rmdir(dir.c_str());
  }
};

// Moves every byte of `from`'s send buffer into `to`.
void deliver(tls_session& from, tls_session& to) {
  for (auto c = from.pending_ciphertext(); !c.empty(); c = from.pending_ciphertext()) {
    to.feed_ciphertext(c);
    from.consume_ciphertext(c.size());
  }
}

struct pair_of_sessions {
  std::unique_ptr<tls_session> client, server;
  bool ok = false;
  pair_of_sessions(tls_context& cctx, tls_context& sctx) {
    auto c = tls_session::create(cctx, "localhost", send_buffer);
    auto s = tls_session::create_server(sctx, send_buffer);
    if (!c || !s) return;
    client = std::move(c.value());
    server = std::move(s.value());
    for (int i = 0; i < 20 && !(client->handshake_done() && server->handshake_done()); ++i) {
      client->handshake();
      deliver(*client, *server);
      server->handshake();
      deliver(*server, *client);
    }
    ok = client->handshake_done() && server->handshake_done();
  }
};

// The new way: pieces from the ring, ciphertext taken where it lies (given
// to `sink`, then consumed, as a send's completion does).
template <class Sink>
bool send_pieces(tls_session& s, gather_request& g, Sink&& sink) {
  while (!g.done()) {
    std::size_t written = 0;
    const tls_status st = s.write(g.rest(), written);
    g.advance(written);
    if (st == tls_status::error) return false;
    for (auto c = s.pending_ciphertext(); !c.empty(); c = s.pending_ciphertext()) {
      sink(c);
      s.consume_ciphertext(c.size());
    }
  }
  return true;
}

// The old way: the request joined into a string, its ciphertext appended to a
// wire string before the send.
bool send_joined(tls_session& s, gather_request& joined, std::string& wire) {
  const iovec whole = joined.rest()[0];
  const char* p = static_cast<const char*>(whole.iov_base);
  std::size_t off = 0;
  wire.clear();
  while (off < whole.iov_len) {
    std::size_t written = 0;
    const tls_status st = s.write({p + off, whole.iov_len - off}, written);
    off += written;
    if (st == tls_status::error) return false;
    for (auto c = s.pending_ciphertext(); !c.empty(); c = s.pending_ciphertext()) {
      wire.append(c.data(), c.size());
      s.consume_ciphertext(c.size());
    }
  }
  return true;
}

struct fixture {
  server_files files;
  std::shared_ptr<tls_context> cctx, sctx;
  event_ring ring{1 << 20};
  std::uint64_t begin = 0, end = 0;
  std::string expected;
  bool ok = false;
  fixture() {
    auto c = tls_context::create_client("", tg::upstream::verify_peer::no);
    auto s = tls_context::create_server(files.cert, files.key);
    if (!c || !s) return;
    cctx = c.value();
    sctx = s.value();
    begin = ring.read_begin();
    std::string body = "[";
    for (int i = 0; i < batch_events; ++i) {
      const std::string e = event(i);
      char* p = ring.try_reserve(e.size());
      if (p == nullptr) return;
      std::memcpy(p, e.data(), e.size());
      body += (i ? "," : "") + e;
    }
    ring.commit();
    end = ring.committed_end();
    body += "]";
    expected = head_prefix + std::to_string(body.size()) + "\r\n\r\n" + body;
    ok = true;
  }
};

// What the server decrypts from the ciphertext handed to it.
std::string decrypt_all(tls_session& server) {
  std::string got;
  char buf[16384];
  for (;;) {
    std::size_t n = 0;
    server.read(buf, sizeof buf, n);
    if (n == 0) return got;
    got.append(buf, n);
  }
}

void bm_tls_request_from_the_ring(benchmark::State& state) {
  fixture f;
  if (!f.ok) return state.SkipWithError("fixture set-up failed");
  pair_of_sessions p(*f.cctx, *f.sctx);
  if (!p.ok) return state.SkipWithError("handshake failed");
  gather_request g;
  g.build(f.ring, f.begin, f.end, head_prefix);
  const bool sent = send_pieces(*p.client, g, [&](std::span<const char> c) { p.server->feed_ciphertext(c); });
  if (!sent || decrypt_all(*p.server) != f.expected) return state.SkipWithError("ciphertext is not the request");
  std::size_t wire_bytes = 0;
  for (auto _ : state) {
    g.build(f.ring, f.begin, f.end, head_prefix);
    wire_bytes = 0;
    if (!send_pieces(*p.client, g, [&](std::span<const char> c) { wire_bytes += c.size(); })) {
      return state.SkipWithError("TLS write failed");
    }
    benchmark::DoNotOptimize(wire_bytes);
  }
  state.counters["wire_bytes"] = static_cast<double>(wire_bytes);
  state.SetItemsProcessed(state.iterations() * batch_events);
}

void bm_tls_request_joined_then_copied(benchmark::State& state) {
  fixture f;
  if (!f.ok) return state.SkipWithError("fixture set-up failed");
  pair_of_sessions p(*f.cctx, *f.sctx);
  if (!p.ok) return state.SkipWithError("handshake failed");
  gather_request g;
  std::string wire;
  g.build_joined(f.ring, f.begin, f.end, head_prefix);
  if (!send_joined(*p.client, g, wire)) return state.SkipWithError("TLS write failed");
  p.server->feed_ciphertext(wire);
  if (decrypt_all(*p.server) != f.expected) return state.SkipWithError("ciphertext is not the request");
  for (auto _ : state) {
    g.build_joined(f.ring, f.begin, f.end, head_prefix);
    if (!send_joined(*p.client, g, wire)) return state.SkipWithError("TLS write failed");
    benchmark::DoNotOptimize(wire.data());
  }
  state.counters["wire_bytes"] = static_cast<double>(wire.size());
  state.SetItemsProcessed(state.iterations() * batch_events);
}

}  // namespace

BENCHMARK(bm_tls_request_from_the_ring);
BENCHMARK(bm_tls_request_joined_then_copied);
