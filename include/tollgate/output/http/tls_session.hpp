// SPDX-License-Identifier: Apache-2.0
// TLS without sockets: OpenSSL runs over in-memory BIOs and the caller moves the
// ciphertext, so every byte of upstream I/O stays on the shard's io_uring.
// tls_context is created once at start-up and shared read-only by all shards;
// a tls_session belongs to one connection on one shard thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "tollgate/base/result.hpp"

// OpenSSL types, forward-declared so callers need not include OpenSSL headers.
typedef struct ssl_ctx_st SSL_CTX;  // NOLINT
typedef struct ssl_st SSL;          // NOLINT
typedef struct bio_st BIO;          // NOLINT

namespace tg::upstream {

enum class verify_peer : bool { no, yes };

enum class tls_status {
  ok,          // the call did what it was asked (handshake done, bytes moved)
  want_read,   // needs more ciphertext from the peer: feed_ciphertext(), call again
  want_write,  // the send buffer is full: send pending_ciphertext(), call again
  closed,      // the peer sent close_notify: no more plaintext will come
  error,       // fatal for this session: last_error() says why
};

// One SSL_CTX. Client: TLS 1.2 or newer, peer verification on unless told
// otherwise. Server: for tollgate-sink and tests.
class tls_context {
 public:
  // ca_file empty: the system trust store (SSL_CTX_set_default_verify_paths);
  // otherwise only the CAs in that PEM file are trusted (a private CA).
  static result<std::shared_ptr<tls_context>, std::string> create_client(const std::string& ca_file,
                                                                         verify_peer verify = verify_peer::yes);
  // cert_chain_file: PEM, leaf first; key_file: PEM private key.
  static result<std::shared_ptr<tls_context>, std::string> create_server(const std::string& cert_chain_file,
                                                                         const std::string& key_file);
  // tollgate's own listener (--tls-cert): create_server's context with TLS
  // 1.2 and 1.3 only, ALPN http/1.1, stateless session tickets (one per
  // handshake; no cache shared between shards), and with client_ca_file set,
  // a client certificate signed by one of its CAs required (mutual TLS).
  // Shared read-only by every shard.
  static result<std::shared_ptr<tls_context>, std::string> create_listener(const std::string& cert_chain_file,
                                                                           const std::string& key_file,
                                                                           const std::string& client_ca_file);

  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  SSL_CTX* native() const noexcept { return ctx_; }
  bool is_server() const noexcept { return server_; }

 private:
  tls_context(SSL_CTX* ctx, bool server) noexcept : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
};

// One TLS connection. The protocol, for each direction:
//   peer -> us:  bytes received from the socket go to feed_ciphertext();
//                then handshake() / read() turn them into progress or plaintext.
//   us -> peer:  after EVERY call below, send pending_ciphertext() if it is not
//                empty and call consume_ciphertext(sent) when the send completes.
// pending_ciphertext() points into a fixed buffer that does not move while
// other calls add ciphertext behind it, so the span may be handed to an
// io_uring send and consumed when its completion arrives. The buffer wraps:
// the span is the contiguous part, call again after consuming for the rest.
class tls_session {
 public:
  static constexpr std::size_t default_send_buffer_bytes = 128 * 1024;

  // Client session. server_name is the host from the URL: a DNS name is sent
  // as SNI and checked against the certificate (SSL_set1_host); an IP literal
  // (v4, or v6 without brackets) is checked against the IP SANs and sends no SNI.
  // Heap-allocated: a connection drops its session on reconnect and makes a new one.
  static result<std::unique_ptr<tls_session>, std::string> create(
      tls_context& ctx, std::string_view server_name, std::size_t send_buffer_bytes = default_send_buffer_bytes);
  // Server session (the listener, tollgate-sink, tests).
  static result<std::unique_ptr<tls_session>, std::string> create_server(
      const tls_context& ctx, std::size_t send_buffer_bytes = default_send_buffer_bytes);

  ~tls_session();
  tls_session(const tls_session&) = delete;
  tls_session& operator=(const tls_session&) = delete;

  // ---- ciphertext, both directions ----
  // Copies received ciphertext in (any amount; it is kept until used).
  void feed_ciphertext(std::span<const char> bytes) noexcept;
  // The socket reached EOF: a later read() reports error ("unexpected eof")
  // unless close_notify came first, so a truncated response is never taken
  // for a complete one.
  void feed_eof() noexcept;
  std::span<const char> pending_ciphertext() const noexcept;
  std::size_t pending_ciphertext_bytes() const noexcept;
  void consume_ciphertext(std::size_t n) noexcept;

  // ---- handshake ----
  // Drives the handshake; ok once it is complete (and then at once).
  tls_status handshake() noexcept;
  bool handshake_done() const noexcept;
  // Negotiated protocol, e.g. "TLSv1.3", for the connection log line.
  const char* protocol() const noexcept;
  // After the handshake: whether it resumed a session (a ticket).
  bool session_reused() const noexcept;
  // After the handshake: the subject CN of the peer's (verified) certificate,
  // empty when it sent none or has no CN.
  std::string peer_common_name() const;

  // ---- plaintext ----
  // Encrypts as much of `plain` as the send buffer takes; `written` says how
  // much (it may be > 0 with any status). ok: all of it. want_write: send
  // pending ciphertext, then call again with the REST of the same bytes, no
  // fewer (OpenSSL may hold an encrypted record of them already).
  tls_status write(std::span<const char> plain, std::size_t& written) noexcept;
  // Gather form: the pieces are packed into full TLS records (16 KiB) without
  // the caller joining them, so many small events do not become many small
  // records. Same contract as write(), `written` counting across pieces.
  tls_status write(std::span<const iovec> pieces, std::size_t& written) noexcept;
  // Decrypts up to cap bytes. ok with got > 0; want_read when no whole record
  // is buffered; closed after close_notify.
  tls_status read(char* buf, std::size_t cap, std::size_t& got) noexcept;
  // Queues close_notify (then flush pending_ciphertext()). Does not wait for
  // the peer's.
  tls_status shutdown() noexcept;

  // Why the last error happened, e.g. "certificate verify failed: hostname mismatch".
  const std::string& last_error() const noexcept { return last_error_; }

 private:
  tls_session(SSL* ssl, BIO* net, std::unique_ptr<char[]> staging) noexcept;
  tls_status classify(int ret, const char* op) noexcept;
  tls_status write_one(const char* data, std::size_t n, std::size_t& written) noexcept;

  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // memory BIO: ciphertext from the peer (owned by ssl_)
  BIO* net_ = nullptr;  // our end of the BIO pair whose other end SSL writes to
  std::unique_ptr<char[]> staging_;  // one record's worth, for packing small pieces
  std::string last_error_;
};

}  // namespace tg::upstream
