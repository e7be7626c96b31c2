// SPDX-License-Identifier: Apache-2.0
// Inbound bearer tokens (--ingest-tokens-file): one client per line, `NAME
// TOKEN` or `NAME sha256:HEX`, `#` comments and blank lines ignored. The table
// keeps only SHA-256 digests (plain tokens are hashed when read), so a lookup
// hashes the presented token and compares digests; the final comparison is
// constant-time (CRYPTO_memcmp), and the search before it only ever sees
// digests, which say nothing usable about a valid token. Parsing is a pure
// function of the file's text; tokens never appear in an error or a log.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/result.hpp"

typedef struct evp_md_st EVP_MD;          // NOLINT
typedef struct evp_md_ctx_st EVP_MD_CTX;  // NOLINT

namespace tg::server {

inline constexpr std::size_t max_token_lines = 4096;  // tokens in one file
inline constexpr std::size_t max_client_name_bytes = 64;
inline constexpr std::size_t max_token_bytes = 4096;

using digest = std::array<unsigned char, 32>;

// SHA-256 with a reused context: one per shard thread (EVP fetches and
// allocations stay out of the per-request path).
class sha256_hasher {
 public:
  sha256_hasher();
  ~sha256_hasher();
  sha256_hasher(const sha256_hasher&) = delete;
  sha256_hasher& operator=(const sha256_hasher&) = delete;
  digest operator()(std::string_view bytes);

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

struct token_entry {
  digest hash;
  std::uint16_t client = 0;  // index into token_table::names()
};

class token_table {
 public:
  // Errors name the line ("line 3: ..."), never its content.
  static result<token_table, std::string> parse(std::string_view text);

  // The client whose token `token` is, or -1. Hashes with `h`.
  int find(std::string_view token, sha256_hasher& h) const;
  const std::vector<std::string>& names() const noexcept { return names_; }
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::vector<token_entry> entries_;  // sorted by hash
  std::vector<std::string> names_;    // distinct client names, in file order
};

// The token of an `Authorization: Bearer TOKEN` value (scheme
// case-insensitive); empty for another scheme or none.
std::string_view bearer_token(std::string_view authorization) noexcept;

}  // namespace tg::server
