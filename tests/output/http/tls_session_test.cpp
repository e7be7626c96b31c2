// SPDX-License-Identifier: Apache-2.0
// TLS over memory BIOs, client against server in one thread: a test PKI is
// made at test time with OpenSSL's C API, and the test moves the ciphertext
// between the two sessions the way the shard's io_uring will.
#include <doctest/doctest.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tollgate/output/http/tls_session.hpp"

using namespace tg::upstream;

namespace {

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed CA.
X509* make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, const char* san) {
  static long serial = 1;
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : x;
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  if (issuer == nullptr) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, signer, NID_ext_key_usage, "serverAuth");
    add_ext(x, signer, NID_subject_alt_name, san);
  }
  REQUIRE(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return x;
}

void write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  if (cert) PEM_write_X509(f, cert);
  if (key) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

// A trusted CA with a server certificate for localhost / 127.0.0.1, and a
// second CA the client does not trust, made once per test run.
struct pki {
  std::string dir, ca, other_ca, server_cert, server_key;
  pki() {
    char tmpl[] = "/tmp/tollgate-tls-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    ca = dir + "/ca.pem";
    other_ca = dir + "/other-ca.pem";
    server_cert = dir + "/server.pem";
    server_key = dir + "/server.key";
    EVP_PKEY* ca_key = EVP_EC_gen("P-256");
    EVP_PKEY* other_key = EVP_EC_gen("P-256");
    EVP_PKEY* srv_key = EVP_EC_gen("P-256");
    REQUIRE((ca_key && other_key && srv_key));
    X509* ca_cert = make_cert(ca_key, "tollgate test CA", nullptr, nullptr, nullptr);
    X509* other_cert = make_cert(other_key, "some other CA", nullptr, nullptr, nullptr);
    X509* srv = make_cert(srv_key, "localhost", ca_cert, ca_key, "DNS:localhost,IP:127.0.0.1");
    write_pem(ca, ca_cert, nullptr);
    write_pem(other_ca, other_cert, nullptr);
    write_pem(server_cert, srv, nullptr);
    write_pem(server_key, nullptr, srv_key);
    X509_free(ca_cert);
    X509_free(other_cert);
    X509_free(srv);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(srv_key);
  }
  ~pki() {
    for (const auto& f : {ca, other_ca, server_cert, server_key}) ::unlink(f.c_str());
    ::rmdir(dir.c_str());
  }
};

const pki& test_pki() {
  static pki p;
  return p;
}

std::shared_ptr<tls_context> server_ctx() {
  auto c = tls_context::create_server(test_pki().server_cert, test_pki().server_key);
  REQUIRE_MESSAGE(c, (c ? "" : c.error()));
  return c.value();
}

std::shared_ptr<tls_context> client_ctx(const std::string& ca, verify_peer v = verify_peer::yes) {
  auto c = tls_context::create_client(ca, v);
  REQUIRE_MESSAGE(c, (c ? "" : c.error()));
  return c.value();
}

// Moves every byte `from` has to send into `to`, as send + recv would.
std::size_t pump(tls_session& from, tls_session& to) {
  std::size_t moved = 0;
  for (auto p = from.pending_ciphertext(); !p.empty(); p = from.pending_ciphertext()) {
    to.feed_ciphertext(p);
    from.consume_ciphertext(p.size());
    moved += p.size();
  }
  return moved;
}

// Runs both handshakes to completion or failure.
bool handshake(tls_session& c, tls_session& s) {
  for (int round = 0; round < 20; ++round) {
    tls_status a = c.handshake();
    pump(c, s);
    tls_status b = s.handshake();
    pump(s, c);
    if (a == tls_status::error || b == tls_status::error) return false;
    if (a == tls_status::ok && b == tls_status::ok) return true;
  }
  FAIL("handshake did not converge");
  return false;
}

std::string read_all(tls_session& s, tls_status& last) {
  std::string out;
  char buf[4096];
  for (;;) {
    std::size_t got = 0;
    last = s.read(buf, sizeof buf, got);
    if (last != tls_status::ok) return out;
    out.append(buf, got);
  }
}

struct connected {
  std::shared_ptr<tls_context> cctx, sctx;
  std::unique_ptr<tls_session> c, s;
};

connected connect(const std::string& name, std::size_t send_buffer = tls_session::default_send_buffer_bytes,
                  bool tls12 = false) {
  auto cctx = client_ctx(test_pki().ca);
  auto sctx = server_ctx();
  if (tls12) SSL_CTX_set_max_proto_version(sctx->native(), TLS1_2_VERSION);
  auto c = tls_session::create(*cctx, name, send_buffer);
  auto s = tls_session::create_server(*sctx, send_buffer);
  REQUIRE(c);
  REQUIRE(s);
  connected k{cctx, sctx, std::move(c).value(), std::move(s).value()};
  REQUIRE_MESSAGE(handshake(*k.c, *k.s), (k.c->last_error() + " / " + k.s->last_error()));
  return k;
}

}  // namespace

TEST_CASE("handshake succeeds with the right CA and host name") {
  bool tls12 = false;
  SUBCASE("TLS 1.3") { tls12 = false; }
  SUBCASE("TLS 1.2") { tls12 = true; }
  for (const char* name : {"localhost", "127.0.0.1"}) {
    CAPTURE(name);
    auto k = connect(name, tls_session::default_send_buffer_bytes, tls12);
    CHECK(k.c->handshake_done());
    CHECK(k.s->handshake_done());
    CHECK(k.c->handshake() == tls_status::ok);  // idempotent once done
    CHECK(std::string(k.c->protocol()) == (tls12 ? "TLSv1.2" : "TLSv1.3"));
  }
}

TEST_CASE("SNI is sent for a host name and not for an IP literal") {
  auto cctx = client_ctx(test_pki().ca);
  auto sctx = server_ctx();
  std::string seen = "unset";
  SSL_CTX_set_tlsext_servername_arg(sctx->native(), &seen);
  SSL_CTX_set_tlsext_servername_callback(sctx->native(), +[](SSL* ssl, int*, void* arg) -> int {
    const char* n = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    *static_cast<std::string*>(arg) = n ? n : "none";
    return SSL_TLSEXT_ERR_OK;
  });
  for (auto [name, expect] : {std::pair{"localhost", "localhost"}, std::pair{"127.0.0.1", "none"}}) {
    auto c = std::move(tls_session::create(*cctx, name)).value();
    auto s = std::move(tls_session::create_server(*sctx)).value();
    CHECK(handshake(*c, *s));
    CHECK(seen == expect);
  }
}

TEST_CASE("handshake fails against an untrusted CA and says it was verification") {
  auto cctx = client_ctx(test_pki().other_ca);
  auto sctx = server_ctx();
  auto c = std::move(tls_session::create(*cctx, "localhost")).value();
  auto s = std::move(tls_session::create_server(*sctx)).value();
  CHECK_FALSE(handshake(*c, *s));
  CHECK_FALSE(c->handshake_done());
  INFO(c->last_error());
  CHECK(c->last_error().rfind("certificate verify failed: ", 0) == 0);
  CHECK(c->last_error().find("issuer") != std::string::npos);  // "unable to get local issuer certificate"
  CHECK(ERR_peek_error() == 0);                                // the thread's error queue is left clean
  // The server learns of it from the client's alert.
  CHECK_FALSE(s->last_error().empty());
}

TEST_CASE("handshake fails on a host name the certificate does not cover") {
  auto cctx = client_ctx(test_pki().ca);
  auto sctx = server_ctx();
  SUBCASE("DNS name") {
    auto c = std::move(tls_session::create(*cctx, "example.org")).value();
    auto s = std::move(tls_session::create_server(*sctx)).value();
    CHECK_FALSE(handshake(*c, *s));
    CHECK(c->last_error() == "certificate verify failed: hostname mismatch");
  }
  SUBCASE("IP address") {
    auto c = std::move(tls_session::create(*cctx, "127.0.0.2")).value();
    auto s = std::move(tls_session::create_server(*sctx)).value();
    CHECK_FALSE(handshake(*c, *s));
    CHECK(c->last_error() == "certificate verify failed: IP address mismatch");
  }
}

TEST_CASE("verification can be turned off, and then an untrusted certificate is accepted") {
  auto cctx = client_ctx(test_pki().other_ca, verify_peer::no);
  auto sctx = server_ctx();
  auto c = std::move(tls_session::create(*cctx, "example.org")).value();
  auto s = std::move(tls_session::create_server(*sctx)).value();
  CHECK(handshake(*c, *s));
}

TEST_CASE("context creation reports unreadable files") {
  CHECK(tls_context::create_client("").has_value());  // system trust store
  auto bad = tls_context::create_client("/nonexistent/ca.pem");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("cannot load CA file '/nonexistent/ca.pem'") == 0);
  auto srv = tls_context::create_server(test_pki().server_cert, test_pki().ca);  // CA file holds no key
  REQUIRE_FALSE(srv);
  CHECK(srv.error().find("cannot load private key") == 0);
  auto cctx = client_ctx("");
  CHECK_FALSE(tls_session::create_server(*cctx));  // wrong role
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("application data round-trips both ways") {
  auto k = connect("localhost");
  std::size_t written = 0;
  std::string req = "POST /api/v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n";
  CHECK(k.c->write(std::span<const char>(req), written) == tls_status::ok);
  CHECK(written == req.size());
  pump(*k.c, *k.s);
  tls_status st;
  CHECK(read_all(*k.s, st) == req);
  CHECK(st == tls_status::want_read);

  std::string resp = "HTTP/1.1 204 No Content\r\n\r\n";
  CHECK(k.s->write(std::span<const char>(resp), written) == tls_status::ok);
  pump(*k.s, *k.c);
  CHECK(read_all(*k.c, st) == resp);
  CHECK(st == tls_status::want_read);
}

TEST_CASE("a 1 MiB payload in uneven pieces arrives intact through a small send buffer") {
  bool tls12 = false;
  SUBCASE("TLS 1.3") { tls12 = false; }
  SUBCASE("TLS 1.2") { tls12 = true; }
  auto k = connect("localhost", 20000, tls12);  // barely more than a record: want_write is certain
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + (i * 7919) % 26);
  // Pieces from 1 byte to 40 KiB, some empty, crossing record boundaries.
  std::vector<std::pair<std::size_t, std::size_t>> slices;  // offset, length
  for (std::size_t off = 0, n = 1; off < payload.size(); n = (n * 37 + 11) % 40961) {
    std::size_t len = std::min(n, payload.size() - off);
    slices.emplace_back(off, len);
    off += len;
  }
  auto remaining = [&](std::size_t sent) {
    std::vector<iovec> iov;
    for (auto [off, len] : slices) {
      if (off + len <= sent) continue;
      std::size_t skip = sent > off ? sent - off : 0;
      iov.push_back({payload.data() + off + skip, len - skip});
    }
    return iov;
  };
  std::size_t sent = 0;
  int want_writes = 0;
  std::string received;
  tls_status st;
  while (received.size() < payload.size()) {
    if (sent < payload.size()) {
      auto iov = remaining(sent);
      std::size_t w = 0;
      st = k.c->write(std::span<const iovec>(iov), w);
      REQUIRE((st == tls_status::ok || st == tls_status::want_write));
      want_writes += st == tls_status::want_write;
      sent += w;
    }
    REQUIRE(k.c->pending_ciphertext_bytes() <= 20000);
    pump(*k.c, *k.s);
    received += read_all(*k.s, st);
    REQUIRE(st == tls_status::want_read);
  }
  CHECK(sent == payload.size());
  CHECK(want_writes > 10);
  CHECK(received == payload);
}

TEST_CASE("small gathered pieces are packed into full records") {
  auto k = connect("localhost");
  std::string piece = "{\"id\":\"x\"},";  // 11 bytes
  std::vector<iovec> iov(1000, iovec{piece.data(), piece.size()});
  std::size_t w = 0;
  CHECK(k.c->write(std::span<const iovec>(iov), w) == tls_status::ok);
  CHECK(w == 11000);
  // One record (about 22 bytes of overhead) rather than a thousand.
  CHECK(k.c->pending_ciphertext_bytes() < 11000 + 64);
  pump(*k.c, *k.s);
  tls_status st;
  std::string got = read_all(*k.s, st);
  CHECK(got.size() == 11000);
  CHECK(got.substr(0, 22) == piece + piece);
}

TEST_CASE("close_notify is reported as closed, in each direction") {
  auto k = connect("localhost");
  std::size_t w = 0;
  std::string last = "last bytes";
  k.s->write(std::span<const char>(last), w);
  CHECK(k.s->shutdown() == tls_status::ok);
  pump(*k.s, *k.c);
  tls_status st;
  CHECK(read_all(*k.c, st) == last);  // data before close_notify is delivered
  CHECK(st == tls_status::closed);
  CHECK(k.c->shutdown() == tls_status::ok);
  pump(*k.c, *k.s);
  read_all(*k.s, st);
  CHECK(st == tls_status::closed);
}

TEST_CASE("EOF without close_notify is an error, not a clean end") {
  auto k = connect("localhost");
  std::size_t w = 0;
  std::string part = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart";
  k.s->write(std::span<const char>(part), w);
  pump(*k.s, *k.c);
  k.c->feed_eof();
  tls_status st;
  CHECK(read_all(*k.c, st) == part);
  CHECK(st == tls_status::error);
  CHECK(k.c->last_error().find("unexpected eof") != std::string::npos);
}

TEST_CASE("handshake waits for ciphertext: want_read with nothing fed") {
  auto cctx = client_ctx(test_pki().ca);
  auto c = std::move(tls_session::create(*cctx, "localhost")).value();
  CHECK(c->handshake() == tls_status::want_read);
  CHECK(c->pending_ciphertext_bytes() > 0);  // the ClientHello, to be sent
  CHECK(c->handshake() == tls_status::want_read);
  CHECK_FALSE(c->handshake_done());
}

TEST_CASE("write takes a braced pointer and length") {
  auto k = connect("localhost");
  std::string msg = "braced";
  std::size_t w = 0;
  CHECK(k.c->write({msg.data(), msg.size()}, w) == tls_status::ok);
  CHECK(w == msg.size());
  pump(*k.c, *k.s);
  tls_status st;
  CHECK(read_all(*k.s, st) == msg);
}
