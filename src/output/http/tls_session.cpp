// SPDX-License-Identifier: Apache-2.0
// OpenSSL over memory BIOs. Incoming ciphertext goes into a growable memory
// BIO (the caller decides how much it feeds); outgoing ciphertext goes into a
// fixed-size BIO pair, whose buffer never moves, so the caller can send
// straight out of it and a full buffer pushes back as want_write.
#include "tollgate/output/http/tls_session.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <climits>
#include <utility>

namespace tg::upstream {
namespace {

// Largest plaintext in one TLS record (RFC 8446 section 5.1).
constexpr std::size_t max_record_plain = 16384;

// Drains this thread's OpenSSL error queue into text, so one session's error
// never leaks into the next call on the same shard.
std::string take_openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

unexpected<std::string> fail(std::string what) {
  std::string errs = take_openssl_errors();
  if (!errs.empty()) what += ": " + errs;
  return unexpected{std::move(what)};
}

bool is_ip_literal(const std::string& s) {
  in6_addr a6{};
  in_addr a4{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

int clamp_int(std::size_t n) { return static_cast<int>(std::min<std::size_t>(n, INT_MAX)); }

// Common to both roles: a new SSL wired to a memory BIO for input and a BIO
// pair for output.
struct wired {
  SSL* ssl = nullptr;
  BIO* net = nullptr;
};

result<wired, std::string> wire(const tls_context& ctx, std::size_t send_buffer_bytes) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.native());
  if (ssl == nullptr) return fail("SSL_new");
  BIO* in = BIO_new(BIO_s_mem());
  BIO* internal = nullptr;
  BIO* net = nullptr;
  // Nothing is ever written into `net`, so its own buffer stays tiny.
  if (in == nullptr || BIO_new_bio_pair(&internal, std::max<std::size_t>(send_buffer_bytes, 4096), &net, 256) != 1) {
    BIO_free(in);
    SSL_free(ssl);
    return fail("BIO allocation");
  }
  SSL_set_bio(ssl, in, internal);  // ssl owns both from here
  // Partial writes: SSL_write returns after each record, so a full send buffer
  // reports progress instead of holding back everything. Moving buffer: the
  // retry after want_write may come from a different address with the same bytes.
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return wired{ssl, net};
}

// ALPN on the listener: HTTP/1.1 is all it speaks. A client that offers only
// other protocols (h2) goes on without ALPN rather than failing, and an HTTP/2
// preface then gets a GOAWAY that says HTTP/1.1 is required.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                  void*) {
  static const unsigned char ours[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, ours, sizeof ours, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

// ---------------------------------------------------------------- tls_context

result<std::shared_ptr<tls_context>, std::string> tls_context::create_client(const std::string& ca_file,
                                                                             verify_peer verify) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return fail("SSL_CTX_new");
  std::shared_ptr<tls_context> out(new tls_context(ctx, false));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // A renegotiation would be a handshake in the middle of a response stream;
  // the upstream has no reason to ask for one.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (verify == verify_peer::yes) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (ca_file.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx) != 1) return fail("cannot load the system trust store");
    } else if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
      return fail("cannot load CA file '" + ca_file + "'");
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return out;
}

result<std::shared_ptr<tls_context>, std::string> tls_context::create_server(const std::string& cert_chain_file,
                                                                             const std::string& key_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return fail("SSL_CTX_new");
  std::shared_ptr<tls_context> out(new tls_context(ctx, true));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_chain_file.c_str()) != 1) {
    return fail("cannot load certificate chain '" + cert_chain_file + "'");
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load private key '" + key_file + "'");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return fail("private key does not match the certificate");
  return out;
}

result<std::shared_ptr<tls_context>, std::string> tls_context::create_listener(const std::string& cert_chain_file,
                                                                               const std::string& key_file,
                                                                               const std::string& client_ca_file) {
  auto made = create_server(cert_chain_file, key_file);
  if (!made) return made;
  SSL_CTX* ctx = made.value()->native();
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
  // Resumption by stateless tickets only: a session cache would be state
  // shared (and locked) between the shards' threads. The id context is what
  // lets a session resume when client certificates are verified.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 1);
  static const unsigned char id_context[] = "tollgate";
  SSL_CTX_set_session_id_context(ctx, id_context, sizeof id_context - 1);
  // OpenSSL's own record buffers go back while a connection idles.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (!client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, client_ca_file.c_str(), nullptr) != 1) {
      return fail("cannot load client CA file '" + client_ca_file + "'");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(client_ca_file.c_str());
    if (names == nullptr) return fail("no CA certificate in '" + client_ca_file + "'");
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return made;
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

// ---------------------------------------------------------------- tls_session

tls_session::tls_session(SSL* ssl, BIO* net, std::unique_ptr<char[]> staging) noexcept
    : ssl_(ssl), in_(SSL_get_rbio(ssl)), net_(net), staging_(std::move(staging)) {}

tls_session::~tls_session() {
  SSL_free(ssl_);  // frees the input BIO and our pair's other half
  BIO_free(net_);
}

result<std::unique_ptr<tls_session>, std::string> tls_session::create(tls_context& ctx, std::string_view server_name,
                                                                      std::size_t send_buffer_bytes) {
  if (ctx.is_server()) return unexpected{std::string("tls_session::create needs a client context")};
  auto w = wire(ctx, send_buffer_bytes);
  if (!w) return unexpected{w.error()};
  std::unique_ptr<tls_session> s(new tls_session(w->ssl, w->net, std::make_unique<char[]>(max_record_plain)));
  SSL_set_connect_state(s->ssl_);
  std::string name(server_name);
  if (is_ip_literal(name)) {
    // RFC 6066 forbids IP literals in SNI; the certificate must carry an IP SAN.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl_), name.c_str()) != 1) {
      return fail("cannot verify against IP '" + name + "'");
    }
  } else {
    SSL_set_hostflags(s->ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set_tlsext_host_name(s->ssl_, name.c_str()) != 1 || SSL_set1_host(s->ssl_, name.c_str()) != 1) {
      return fail("cannot set server name '" + name + "'");
    }
  }
  return s;
}

result<std::unique_ptr<tls_session>, std::string> tls_session::create_server(const tls_context& ctx,
                                                                             std::size_t send_buffer_bytes) {
  if (!ctx.is_server()) return unexpected{std::string("tls_session::create_server needs a server context")};
  auto w = wire(ctx, send_buffer_bytes);
  if (!w) return unexpected{w.error()};
  std::unique_ptr<tls_session> s(new tls_session(w->ssl, w->net, std::make_unique<char[]>(max_record_plain)));
  SSL_set_accept_state(s->ssl_);
  return s;
}

void tls_session::feed_ciphertext(std::span<const char> bytes) noexcept {
  while (!bytes.empty()) {
    int n = BIO_write(in_, bytes.data(), clamp_int(bytes.size()));
    if (n <= 0) return;  // out of memory: the handshake or read will fail visibly
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
}

void tls_session::feed_eof() noexcept { BIO_set_mem_eof_return(in_, 0); }

std::span<const char> tls_session::pending_ciphertext() const noexcept {
  char* p = nullptr;
  int n = BIO_nread0(net_, &p);
  if (n <= 0) return {};
  return {p, static_cast<std::size_t>(n)};
}

std::size_t tls_session::pending_ciphertext_bytes() const noexcept { return BIO_ctrl_pending(net_); }

void tls_session::consume_ciphertext(std::size_t n) noexcept {
  while (n > 0) {
    char* p = nullptr;
    int got = BIO_nread(net_, &p, clamp_int(n));
    if (got <= 0) return;
    n -= static_cast<std::size_t>(got);
  }
}

tls_status tls_session::classify(int ret, const char* op) noexcept {
  int e = SSL_get_error(ssl_, ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return tls_status::want_read;
    case SSL_ERROR_WANT_WRITE:
      return tls_status::want_write;
    case SSL_ERROR_ZERO_RETURN:
      return tls_status::closed;
    default:
      break;
  }
  // A failed verification is reported as such, with OpenSSL's reason
  // ("hostname mismatch", "unable to get local issuer certificate"), because
  // that is what an operator has to act on.
  // SSL_VERIFY_NONE still computes a verify result: only report it when it
  // was enforced.
  long v = SSL_get_verify_result(ssl_);
  std::string errs = take_openssl_errors();
  if (v != X509_V_OK && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0) {
    last_error_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(v);
  } else {
    last_error_ = std::string("TLS ") + op + " failed: ";
    last_error_ += errs.empty() ? (e == SSL_ERROR_SYSCALL ? "unexpected eof" : "unknown error") : errs;
  }
  return tls_status::error;
}

tls_status tls_session::handshake() noexcept {
  if (SSL_is_init_finished(ssl_)) return tls_status::ok;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  return r == 1 ? tls_status::ok : classify(r, "handshake");
}

bool tls_session::handshake_done() const noexcept { return SSL_is_init_finished(ssl_) == 1; }

const char* tls_session::protocol() const noexcept { return SSL_get_version(ssl_); }

bool tls_session::session_reused() const noexcept { return SSL_session_reused(ssl_) == 1; }

std::string tls_session::peer_common_name() const {
  const X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return {};
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i < 0) return {};
  const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, v);
  if (n < 0) return {};
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

tls_status tls_session::write_one(const char* data, std::size_t n, std::size_t& written) noexcept {
  ERR_clear_error();
  std::size_t w = 0;
  if (SSL_write_ex(ssl_, data, n, &w) == 1) {
    written += w;
    return tls_status::ok;
  }
  return classify(0, "write");
}

tls_status tls_session::write(std::span<const char> plain, std::size_t& written) noexcept {
  iovec piece{const_cast<char*>(plain.data()), plain.size()};
  return write(std::span<const iovec>(&piece, 1), written);
}

tls_status tls_session::write(std::span<const iovec> pieces, std::size_t& written) noexcept {
  written = 0;
  std::size_t i = 0;    // current piece
  std::size_t off = 0;  // bytes of it already written
  auto advance = [&](std::size_t n) {
    while (n > 0) {
      std::size_t take = std::min(n, pieces[i].iov_len - off);
      n -= take;
      off += take;
      if (off == pieces[i].iov_len) {
        ++i;
        off = 0;
      }
    }
  };
  for (;;) {
    while (i < pieces.size() && pieces[i].iov_len == off) {
      ++i;
      off = 0;
    }
    if (i == pieces.size()) return tls_status::ok;
    const char* base = static_cast<const char*>(pieces[i].iov_base) + off;
    std::size_t left = pieces[i].iov_len - off;
    std::size_t before = written;
    tls_status st;
    if (left >= max_record_plain) {
      // A record's worth in one piece: encrypt straight from the caller's memory.
      st = write_one(base, left, written);
    } else {
      // Pack the following pieces behind it, up to one record. The packing
      // depends only on the bytes from here on, so a retry after want_write
      // repacks the same record OpenSSL may already hold.
      std::size_t n = 0;
      std::size_t j = i;
      std::size_t o = off;
      while (j < pieces.size() && n < max_record_plain) {
        std::size_t take = std::min(max_record_plain - n, pieces[j].iov_len - o);
        std::copy_n(static_cast<const char*>(pieces[j].iov_base) + o, take, staging_.get() + n);
        n += take;
        o += take;
        if (o == pieces[j].iov_len) {
          ++j;
          o = 0;
        }
      }
      st = write_one(staging_.get(), n, written);
    }
    advance(written - before);
    if (st != tls_status::ok) return st;
  }
}

tls_status tls_session::read(char* buf, std::size_t cap, std::size_t& got) noexcept {
  got = 0;
  if (cap == 0) return tls_status::ok;
  ERR_clear_error();
  if (SSL_read_ex(ssl_, buf, cap, &got) == 1) return tls_status::ok;
  got = 0;
  return classify(0, "read");
}

tls_status tls_session::shutdown() noexcept {
  ERR_clear_error();
  int r = SSL_shutdown(ssl_);
  return r >= 0 ? tls_status::ok : classify(r, "shutdown");
}

}  // namespace tg::upstream
