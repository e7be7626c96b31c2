// SPDX-License-Identifier: Apache-2.0
// TLS on the listener, the shard's part: which SSL_CTX new connections use
// (the one published last: a reload changes it for new connections, and each
// open connection keeps the context its SSL holds a reference to), a plaintext
// scratch buffer, and the client name a certificate gives. The front door calls
// it between the receive and the parser and between the response and the
// send (front_door_tls.cpp); the bytes themselves stay on the shard's io_uring.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/base/published.hpp"
#include "tollgate/output/http/tls_session.hpp"
#include "tollgate/server/clients.hpp"

namespace tg::server {

// One connection's TLS.
struct tls_conn {
  std::unique_ptr<upstream::tls_session> session;
  bool started = false;   // ciphertext has arrived (the first bytes were looked at)
  bool failed = false;    // the handshake failed: only its alert goes out, then the connection closes
  bool notified = false;  // close_notify queued
};

class tls_listener {
 public:
  // One TLS record's plaintext at a time (RFC 8446 section 5.1).
  static constexpr std::size_t plain_chunk = 16384;
  // Our end of each connection's ciphertext buffer: a full record and its
  // overhead; a response larger than that is sealed in several steps.
  static constexpr std::size_t send_buffer_bytes = 20 * 1024;

  tls_listener(const published<upstream::tls_context>& contexts, client_registry* clients);

  // A new connection's session on the current context; null (with `why`) when
  // OpenSSL cannot make one (out of memory).
  std::unique_ptr<tls_conn> open(std::string& why);
  // The registry slot of a verified certificate's subject CN (or none).
  std::uint16_t client_of(const upstream::tls_session& s);

  char* plain() noexcept { return plain_.get(); }
  std::string& cipher() noexcept { return cipher_; }
  // A failed handshake is logged at most once a second per shard: scanners
  // must not fill the log.
  bool may_log(std::uint64_t now_ms) {
    if (now_ms - last_log_ms_ < 1000 && last_log_ms_ != 0) return false;
    last_log_ms_ = now_ms;
    return true;
  }

 private:
  subscription<upstream::tls_context> ctx_;
  client_registry* clients_;
  std::unique_ptr<char[]> plain_;
  std::string cipher_;
  std::uint64_t last_log_ms_ = 0;
};

// Whether the first bytes of a connection to a TLS port are plaintext HTTP
// (a request line starts with a method's letters; a TLS record with 0x16).
bool looks_like_http(std::string_view first_bytes) noexcept;

// A CN as a metric label value: letters, digits and ".-_@" kept, anything
// else '_', at most 64 bytes.
std::string label_safe(std::string_view cn);

}  // namespace tg::server
