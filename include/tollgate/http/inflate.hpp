// SPDX-License-Identifier: Apache-2.0
// Compressed request bodies (Content-Encoding gzip, deflate, zstd). Protocol
// core: bytes in, inflated bytes or a precise error out; no I/O, no clock. The
// inflated size is bounded while inflating, so a decompression bomb stops at
// the bound and never costs more memory than it. gzip and deflate use ISA-L's
// igzip and zstd uses libzstd (bench/RESULTS.md has the measurements).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/base/result.hpp"

struct inflate_state;  // ISA-L
struct ZSTD_DCtx_s;    // libzstd

namespace tg::http {

enum class coding : std::uint8_t {
  identity,  // no Content-Encoding (or "identity"): the body as sent
  gzip,      // RFC 1952 (also "x-gzip"); concatenated members are one body
  deflate,   // RFC 1950: a zlib stream (what HTTP's "deflate" means)
  zstd,      // RFC 8878: one or more frames
};

// The codings tollgate inflates, for error details: "gzip, deflate, zstd".
inline constexpr std::string_view supported_codings = "gzip, deflate, zstd";

// Reads a Content-Encoding value (case-insensitive, surrounding whitespace
// ignored). Empty or "identity": coding::identity. Anything else, a list of
// codings included: an error whose text names the value and what is supported.
result<coding, std::string> parse_content_encoding(std::string_view value);

enum class inflate_errc : std::uint8_t {
  corrupt,    // 400: not a valid stream of its coding (the detail says what is wrong)
  too_large,  // 413: inflates to more than the bound
};

struct inflate_error {
  inflate_errc code;
  std::string detail;
};

// Where inflated bytes go: capacity for the bound plus http::body_padding
// (zero bytes after the body, which simdjson reads). Allocated once, never
// initialised beyond what is written, so an untouched tail costs no memory.
struct inflated_body {
  std::unique_ptr<char[]> bytes;
  std::size_t capacity = 0;
  std::size_t size = 0;
  std::string_view view() const noexcept { return {bytes.get(), size}; }
};

// One per shard (it keeps the codecs' decoder states between requests).
class inflater {
 public:
  inflater();
  ~inflater();
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  // Inflates `in` into `out` (reallocated only when its capacity is short of
  // limit + padding). Returns the inflated size; too_large as soon as the
  // output would pass `limit`. coding::identity copies.
  result<std::size_t, inflate_error> run(coding c, std::string_view in, std::size_t limit, inflated_body& out);

 private:
  result<std::size_t, inflate_error> igzip(coding c, std::string_view in, std::size_t limit, inflated_body& out);
  result<std::size_t, inflate_error> zstd(std::string_view in, std::size_t limit, inflated_body& out);

  std::unique_ptr<inflate_state> isal_;
  ZSTD_DCtx_s* zstd_ = nullptr;
};

}  // namespace tg::http
