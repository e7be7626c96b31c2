// SPDX-License-Identifier: Apache-2.0
// The inflater. igzip decodes into the bounded output with avail_out one byte
// past the bound, so "exactly at the bound" and "over it" are told apart
// without decoding further; zstd decodes single-pass into the same buffer (no
// window buffer: the output is the window), so a frame that declares a huge
// window costs nothing either.
#include "tollgate/http/inflate.hpp"
#include "tollgate/http/text.hpp"

#include <isa-l/igzip_lib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <cstring>

#include "tollgate/http/request_parser.hpp"

namespace tg::http {
namespace {

unexpected<inflate_error> corrupt(std::string detail) {
  return unexpected{inflate_error{inflate_errc::corrupt, std::move(detail)}};
}

unexpected<inflate_error> too_large(std::size_t limit) {
  return unexpected{inflate_error{inflate_errc::too_large, "the request body inflates to more than " +
                                                               std::to_string(limit) +
                                                               " bytes, the limit (--max-body-bytes)"}};
}

// Room for the bound, one byte to notice passing it, and the padding.
void reserve(inflated_body& out, std::size_t limit) {
  const std::size_t need = limit + 1 + body_padding;
  if (out.capacity < need) {
    out.bytes = std::make_unique_for_overwrite<char[]>(need);
    out.capacity = need;
  }
  out.size = 0;
}

void pad(inflated_body& out) { std::memset(out.bytes.get() + out.size, 0, body_padding); }

const char* isal_reason(int rc) {
  switch (rc) {
    case ISAL_END_INPUT: return "the stream ends before its last block (truncated)";
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid back-reference distance";
    case ISAL_INVALID_WRAPPER: return "invalid header";
    case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method in the header";
    case ISAL_INCORRECT_CHECKSUM: return "checksum mismatch (the inflated bytes are not what was compressed)";
    default: return "undecodable stream";
  }
}

}  // namespace

result<coding, std::string> parse_content_encoding(std::string_view value) {
  const std::string_view v = trim_ows(value);
  if (v.empty() || iequals(v, "identity")) return coding::identity;
  if (iequals(v, "gzip") || iequals(v, "x-gzip")) return coding::gzip;
  if (iequals(v, "deflate")) return coding::deflate;
  if (iequals(v, "zstd")) return coding::zstd;
  std::string shown(v.substr(0, 64));
  for (char& ch : shown) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7e) ch = '?';
  }
  if (v.find(',') != std::string_view::npos) {
    return unexpected{"Content-Encoding \"" + shown + "\" lists several codings; send one of: " +
                      std::string(supported_codings)};
  }
  return unexpected{"Content-Encoding \"" + shown + "\" is not supported; use one of: " +
                    std::string(supported_codings) + " (or none)"};
}

inflater::inflater() = default;

inflater::~inflater() { ZSTD_freeDCtx(zstd_); }

result<std::size_t, inflate_error> inflater::run(coding c, std::string_view in, std::size_t limit,
                                                 inflated_body& out) {
  switch (c) {
    case coding::identity:
      if (in.size() > limit) return too_large(limit);
      reserve(out, limit);
      std::memcpy(out.bytes.get(), in.data(), in.size());
      out.size = in.size();
      pad(out);
      return out.size;
    case coding::gzip:
    case coding::deflate: return igzip(c, in, limit, out);
    case coding::zstd: return zstd(in, limit, out);
  }
  return corrupt("unknown coding");
}

result<std::size_t, inflate_error> inflater::igzip(coding c, std::string_view in, std::size_t limit,
                                                   inflated_body& out) {
  const char* name = c == coding::gzip ? "gzip" : "deflate (zlib)";
  // igzip counts in 32 bits; a body bound past 4 GiB is not one this takes.
  limit = std::min<std::size_t>(limit, UINT32_MAX - 1);
  if (in.size() > UINT32_MAX) return corrupt(std::string(name) + " body is too large to inflate");
  if (in.empty()) return corrupt(std::string("the ") + name + " body is empty");
  reserve(out, limit);
  if (!isal_) isal_ = std::make_unique<inflate_state>();
  inflate_state& st = *isal_;
  auto* next = reinterpret_cast<const std::uint8_t*>(in.data());
  std::size_t left = in.size();
  std::size_t produced = 0;
  for (int member = 0;; ++member) {
    isal_inflate_init(&st);
    st.crc_flag = c == coding::gzip ? ISAL_GZIP : ISAL_ZLIB;
    st.next_in = const_cast<std::uint8_t*>(next);
    st.avail_in = static_cast<std::uint32_t>(left);
    st.next_out = reinterpret_cast<std::uint8_t*>(out.bytes.get() + produced);
    st.avail_out = static_cast<std::uint32_t>(limit + 1 - produced);
    const int rc = isal_inflate(&st);
    const std::size_t now = produced + (limit + 1 - produced - st.avail_out);
    if (now > limit) return too_large(limit);
    if (rc == ISAL_DECOMP_OK && st.block_state != ISAL_BLOCK_FINISH) {
      // Output full to the byte past the bound is handled above; here the
      // input ran out in the middle of the stream.
      return corrupt(std::string("the ") + name + " body is corrupt: " + isal_reason(ISAL_END_INPUT));
    }
    if (rc != ISAL_DECOMP_OK) {
      return corrupt(std::string("the ") + name + " body is corrupt: " + isal_reason(rc) + " after " +
                     std::to_string(in.size() - left + (left - st.avail_in)) + " of " + std::to_string(in.size()) +
                     " bytes");
    }
    produced = now;
    next = st.next_in;
    left = st.avail_in;
    if (left == 0) break;
    // RFC 1952 section 2.2: a gzip file is a series of members. Anything else
    // after the end of the stream is an error, not data to ignore.
    if (c != coding::gzip || left < 2 || next[0] != 0x1f || next[1] != 0x8b) {
      return corrupt(std::string("the ") + name + " body has " + std::to_string(left) +
                     " bytes after the end of its stream");
    }
  }
  out.size = produced;
  pad(out);
  return produced;
}

result<std::size_t, inflate_error> inflater::zstd(std::string_view in, std::size_t limit, inflated_body& out) {
  if (in.empty()) return corrupt("the zstd body is empty");
  reserve(out, limit);
  if (zstd_ == nullptr) {
    zstd_ = ZSTD_createDCtx();
    if (zstd_ == nullptr) return corrupt("cannot allocate a zstd decoder");
  }
  // Single pass into the bounded buffer: at most limit + 1 bytes are
  // written, and a frame that needs more fails with dstSize_tooSmall.
  const std::size_t n = ZSTD_decompressDCtx(zstd_, out.bytes.get(), limit + 1, in.data(), in.size());
  if (ZSTD_isError(n)) {
    const ZSTD_ErrorCode e = ZSTD_getErrorCode(n);
    if (e == ZSTD_error_dstSize_tooSmall) return too_large(limit);
    if (e == ZSTD_error_srcSize_wrong) return corrupt("the zstd body is corrupt: the stream is truncated or has trailing bytes");
    return corrupt(std::string("the zstd body is corrupt: ") + ZSTD_getErrorName(n));
  }
  if (n > limit) return too_large(limit);
  out.size = n;
  pad(out);
  return n;
}

}  // namespace tg::http
