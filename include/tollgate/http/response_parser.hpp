// SPDX-License-Identifier: Apache-2.0
// Incremental HTTP/1.1 response parser around llhttp, for tollgate's clients
// (tollgate-load now, the upstream client later). Protocol core: no I/O, no
// clock, no globals; one parser per client connection, owned by its thread.
//
// feed() stops after each complete final response, with an exact byte count,
// so pipelined responses are matched to their requests one at a time, in order.
// Interim 1xx responses (100 Continue) are skipped; 101 is an error (a client
// here never asks to switch protocols).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace tg::http {

struct response_limits {
  std::size_t max_head_bytes = 16 * 1024;  // status line + headers; past it: head_too_large
  std::size_t max_headers = 100;           // header fields; past it: head_too_large
  std::size_t max_body_bytes = 64 * 1024;  // body bytes kept; the rest is framed but dropped
  bool keep_body = true;                   // false: frame the body, keep none of it
};

// A Retry-After value is delta-seconds or an HTTP-date (29 bytes); anything
// longer is not a valid one and is not kept.
inline constexpr std::size_t max_retry_after_bytes = 64;

enum class response_errc : std::uint8_t {
  none,
  malformed,       // anything llhttp rejects; a response cut by EOF; 101 Switching Protocols
  head_too_large,  // status line + headers over max_head_bytes / max_headers
};

// The current response. Views point into the parser and stay valid until
// next() or the next feed() after response_complete.
struct response {
  int status = 0;
  std::uint8_t version_major = 1;
  std::uint8_t version_minor = 1;
  bool keep_alive = true;        // llhttp_should_keep_alive(): the connection may carry another request
  bool chunked = false;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  std::uint64_t body_bytes = 0;  // decoded body length, kept or not
  bool body_truncated = false;   // body_bytes > max_body_bytes, or keep_body is false with a body
  std::string_view body;         // the kept part of the body
  bool has_retry_after = false;
  std::string_view retry_after;  // value as sent, whitespace trimmed
};

enum class response_event : std::uint8_t {
  need_more,          // all bytes consumed; feed more
  response_complete,  // current() is a complete final response
  error,              // see response_feed_result::error; the connection must be closed
};

struct response_feed_result {
  response_event ev = response_event::need_more;
  std::size_t consumed = 0;  // bytes of the input used; feed the rest again
  response_errc error = response_errc::none;
};

class response_parser {
 public:
  explicit response_parser(const response_limits& limits = {});
  ~response_parser();
  response_parser(const response_parser&) = delete;
  response_parser& operator=(const response_parser&) = delete;
  response_parser(response_parser&&) noexcept;
  response_parser& operator=(response_parser&&) noexcept;

  // Feeds bytes. Returns at the first event; bytes after `consumed` were not
  // looked at and must be fed again (after handling the event).
  response_feed_result feed(std::span<const char> bytes);

  const response& current() const;

  // After response_complete: forget it and get ready for the next response on
  // the same connection (a plain feed() does the same).
  void next();

  // Drops everything, as for a fresh connection.
  void reset();

  // True while inside a response (some of its bytes were fed, not yet complete).
  bool in_response() const;

  // Signals end of input (peer closed). Returns response_complete for a
  // response whose body is ended by the close (no Content-Length, not
  // chunked), error for one cut in the middle, else need_more.
  response_feed_result finish();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::http
