// SPDX-License-Identifier: Apache-2.0
// The tokens file: parsing (pure), SHA-256 through a reused EVP context, and
// the lookup (binary search over digests, then CRYPTO_memcmp).
#include "tollgate/server/tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace tg::server {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string at_line(std::size_t n, std::string_view what) { return "line " + std::to_string(n) + ": " + std::string(what); }

}  // namespace

sha256_hasher::sha256_hasher() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
  if (md_ == nullptr || ctx_ == nullptr) {
    EVP_MD_free(md_);
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("OpenSSL has no SHA-256");
  }
}

sha256_hasher::~sha256_hasher() {
  EVP_MD_CTX_free(ctx_);
  EVP_MD_free(md_);
}

digest sha256_hasher::operator()(std::string_view bytes) {
  digest d{};
  unsigned int n = 0;
  if (EVP_DigestInit_ex2(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_, d.data(), &n) != 1 || n != d.size()) {
    // Cannot happen with a fetched SHA-256; an all-zero digest matches no
    // token a file can hold (it would need a SHA-256 preimage).
    d.fill(0);
  }
  return d;
}

result<token_table, std::string> token_table::parse(std::string_view text) {
  token_table t;
  sha256_hasher hash;
  std::vector<std::size_t> line_of;  // per entry, for duplicate messages
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;

    std::size_t sp = 0;
    while (sp < line.size() && !is_space(line[sp])) ++sp;
    const std::string_view name = line.substr(0, sp);
    std::string_view secret = line.substr(sp);
    while (!secret.empty() && is_space(secret.front())) secret.remove_prefix(1);
    if (secret.empty() || std::any_of(secret.begin(), secret.end(), is_space)) {
      return unexpected{at_line(line_no, "expected two fields, NAME TOKEN or NAME sha256:HEX")};
    }
    if (name.size() > max_client_name_bytes || !std::all_of(name.begin(), name.end(), name_char)) {
      return unexpected{at_line(line_no, "the client name must be 1 to 64 letters, digits, '.', '_' or '-'")};
    }
    for (char c : secret) {
      if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
        return unexpected{at_line(line_no, "the token has a character that is not printable ASCII")};
      }
    }
    token_entry e;
    if (secret.size() >= 7 && secret.substr(0, 7) == "sha256:") {
      const std::string_view hex = secret.substr(7);
      if (hex.size() != 64) return unexpected{at_line(line_no, "sha256: needs 64 hex digits")};
      for (std::size_t i = 0; i < 32; ++i) {
        const int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return unexpected{at_line(line_no, "sha256: needs 64 hex digits")};
        e.hash[i] = static_cast<unsigned char>(hi * 16 + lo);
      }
    } else {
      if (secret.size() > max_token_bytes) return unexpected{at_line(line_no, "the token is longer than 4096 bytes")};
      e.hash = hash(secret);
    }
    if (t.entries_.size() >= max_token_lines) return unexpected{at_line(line_no, "more than 4096 tokens")};
    auto known = std::find(t.names_.begin(), t.names_.end(), name);
    if (known == t.names_.end()) {
      t.names_.emplace_back(name);
      known = t.names_.end() - 1;
    }
    e.client = static_cast<std::uint16_t>(known - t.names_.begin());
    for (std::size_t i = 0; i < t.entries_.size(); ++i) {
      if (t.entries_[i].hash == e.hash) {
        return unexpected{at_line(line_no, "the same token as line " + std::to_string(line_of[i]))};
      }
    }
    t.entries_.push_back(e);
    line_of.push_back(line_no);
  }
  if (t.entries_.empty()) return unexpected{std::string("no tokens (every request would be refused)")};
  std::sort(t.entries_.begin(), t.entries_.end(),
            [](const token_entry& a, const token_entry& b) { return a.hash < b.hash; });
  return t;
}

int token_table::find(std::string_view token, sha256_hasher& h) const {
  if (token.empty() || token.size() > max_token_bytes) return -1;
  const digest d = h(token);
  auto it = std::lower_bound(entries_.begin(), entries_.end(), d,
                             [](const token_entry& e, const digest& k) { return e.hash < k; });
  if (it == entries_.end()) return -1;
  // The search compared digests only; equality is decided in constant time.
  if (CRYPTO_memcmp(it->hash.data(), d.data(), d.size()) != 0) return -1;
  return it->client;
}

std::string_view bearer_token(std::string_view v) noexcept {
  if (v.size() < 7) return {};
  static constexpr std::string_view scheme = "bearer";
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    char c = v[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != scheme[i]) return {};
  }
  if (!is_space(v[6])) return {};
  v.remove_prefix(7);
  while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_space(v.back())) v.remove_suffix(1);
  return v;
}

}  // namespace tg::server
