// SPDX-License-Identifier: Apache-2.0
// The shard's TLS helper: sessions on the published context, CN to client slot.
#include "tls_listener.hpp"

namespace tg::server {

tls_listener::tls_listener(const published<upstream::tls_context>& contexts, client_registry* clients)
    : ctx_(&contexts), clients_(clients), plain_(std::make_unique<char[]>(plain_chunk)) {}

std::unique_ptr<tls_conn> tls_listener::open(std::string& why) {
  const upstream::tls_context* ctx = ctx_.get();
  if (ctx == nullptr) {
    why = "no TLS context";
    return nullptr;
  }
  auto s = upstream::tls_session::create_server(*ctx, send_buffer_bytes);
  if (!s) {
    why = s.error();
    return nullptr;
  }
  auto c = std::make_unique<tls_conn>();
  c->session = std::move(s.value());
  return c;
}

std::uint16_t tls_listener::client_of(const upstream::tls_session& s) {
  if (clients_ == nullptr) return client_registry::none;
  const std::string cn = s.peer_common_name();
  if (cn.empty()) return client_registry::none;
  return clients_->intern(label_safe(cn));
}

bool looks_like_http(std::string_view b) noexcept {
  return !b.empty() && b[0] >= 'A' && b[0] <= 'Z';
}

std::string label_safe(std::string_view cn) {
  std::string out(cn.substr(0, 64));
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == '@';
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace tg::server
