// SPDX-License-Identifier: Apache-2.0
// Incremental HTTP/1.1 response reader that streams, for the pass-through:
// the head first (status, reason, every header field), then the decoded body
// as it arrives, appended to a buffer the caller gives each feed(), so a
// response of any size passes through in bounded pieces. Protocol core: no
// I/O, no clock, no globals; one per upstream connection, owned by its shard.
// Interim 1xx responses are skipped; 101 is an error (we never ask to switch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace tg::http {

struct stream_limits {
  std::size_t max_head_bytes = 16 * 1024;  // status line + headers; past it: error
  std::size_t max_headers = 100;           // header fields; past it: error
};

// The current response's head. Views point into the reader and stay valid
// until the next start().
struct response_head {
  int status = 0;
  std::uint8_t version_minor = 1;
  std::string_view reason;
  bool chunked = false;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool no_body = false;           // 1xx / 204 / 304, or the answer to a HEAD request
  bool body_until_close = false;  // no length and not chunked: the body ends when the upstream closes
  std::span<const std::pair<std::string_view, std::string_view>> headers;

  // Case-insensitive; "" when absent (the first one when repeated).
  std::string_view header(std::string_view name) const;
};

enum class stream_event : std::uint8_t {
  need_more,         // all bytes used; feed more
  head_complete,     // head() is filled; no body byte was appended yet
  message_complete,  // the body is complete (keep_alive() says whether the connection may go on)
  error,             // malformed, too large a head, or 101: the connection must be closed
};

struct stream_result {
  stream_event ev = stream_event::need_more;
  std::size_t consumed = 0;  // bytes of the input used; feed the rest again
};

class response_stream {
 public:
  explicit response_stream(const stream_limits& limits = {});
  ~response_stream();
  response_stream(const response_stream&) = delete;
  response_stream& operator=(const response_stream&) = delete;

  // Before each response: whether it answers a HEAD request (no body follows
  // whatever Content-Length says).
  void start(bool head_request);
  // Feeds bytes; decoded body bytes are appended to `body`. Returns at the
  // first event; bytes after `consumed` must be fed again after handling it.
  stream_result feed(std::span<const char> bytes, std::string& body);
  // The upstream closed: message_complete for a body that ends by close,
  // error for a response cut short, need_more when none had begun.
  stream_result finish(std::string& body);

  const response_head& head() const;
  // After message_complete: the connection may carry another request.
  bool keep_alive() const;
  // True once any byte of the current response was seen.
  bool started() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::http
