// SPDX-License-Identifier: Apache-2.0
// Incremental HTTP/1.1 request parser around llhttp. Protocol core: no I/O, no
// clock, no globals. One parser per connection, owned by that connection's shard.
//
// Bytes are fed as they arrive, in any fragmentation. The parser copies the
// request head into its own bounded head buffer and the body into its own
// contiguous body buffer (followed by body_padding readable bytes, so simdjson
// can parse it in place), so the caller may reuse its receive buffer as soon as
// feed() returns. feed_lent() is the exception: a Content-Length body that lies
// whole inside the lent bytes is used where it lies. feed() stops after the
// head of a request (so the caller can answer 413 / 100-continue before the
// body arrives) and after each complete message (so pipelined requests are
// answered one at a time, in order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace tg::http {

// simdjson reads up to 64 bytes past the end of its input.
inline constexpr std::size_t body_padding = 64;

struct parser_limits {
  std::size_t max_head_bytes = 16 * 1024;        // request line + headers; past it: 431
  std::size_t max_headers = 100;                 // header fields; past it: 431
  std::size_t max_body_bytes = 4 * 1024 * 1024;  // decoded body; past it: 413
};

enum class method : std::uint8_t { get, head, post, put, del, patch, options, other };

enum class parse_errc : std::uint8_t {
  none,
  malformed,           // 400: anything llhttp rejects, bad Content-Length, etc.
  head_too_large,      // 431: request line + headers over max_head_bytes / max_headers
  body_too_large,      // 413: Content-Length or chunked body over max_body_bytes
  version_unsupported, // 505: HTTP/2+ in an HTTP/1 request line, HTTP/0.9
  h2_preface,          // the HTTP/2 connection preface ("PRI * HTTP/2.0"): answer with write_h2_goaway()
};

// A parsed request. Views point into the parser's own buffers and stay valid
// until next() or the next feed() after message_complete.
struct request {
  method verb = method::other;
  std::string_view method_name;   // as sent, e.g. "POST"
  std::string_view target;        // request-target as sent, e.g. "/api/v1/events?x=1"
  std::string_view path;          // target without query string
  std::uint8_t version_major = 1;
  std::uint8_t version_minor = 1;
  bool keep_alive = true;         // llhttp_should_keep_alive(): 1.1 default, 1.0 needs keep-alive
  bool expect_continue = false;   // "Expect: 100-continue" (case-insensitive)
  bool chunked = false;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool has_content_type = false;
  std::string_view content_type;  // value as sent, whitespace trimmed; "" if absent
  std::string_view authorization; // "" if absent
  std::string_view body;          // valid after message_complete; body_padding readable bytes follow
                                  // (in the parser's buffer, or in the lent input: request_parser::body_lent())
  std::size_t header_count = 0;

  // Case-insensitive lookup of any other header; "" when absent.
  std::string_view header(std::string_view name) const;
  std::span<const std::pair<std::string_view, std::string_view>> headers() const { return {fields, header_count}; }

  const std::pair<std::string_view, std::string_view>* fields = nullptr;
};

enum class event : std::uint8_t {
  need_more,         // all bytes consumed; feed more
  head_complete,     // current() has method, target, headers; body not yet read
  message_complete,  // current() is complete, body included
  error,             // see feed_result::error; the connection must be closed after answering
};

struct feed_result {
  event ev = event::need_more;
  std::size_t consumed = 0;  // bytes of the input used; feed the rest again
  parse_errc error = parse_errc::none;
};

class request_parser {
 public:
  explicit request_parser(const parser_limits& limits = {});
  ~request_parser();
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;
  request_parser(request_parser&&) noexcept;
  request_parser& operator=(request_parser&&) noexcept;

  // Feeds bytes. Returns at the first event; bytes after `consumed` were not
  // looked at and must be fed again (after handling the event).
  feed_result feed(std::span<const char> bytes);

  // feed() for bytes the caller lends: they stay readable and unchanged until
  // the caller has handled the request this call completes (or calls
  // keep_body()), and body_padding readable bytes follow them. A body with a
  // Content-Length (not chunked) that arrives whole in this call is not copied:
  // current().body points into `bytes` and body_lent() is true. Any other body
  // is copied as by feed(), and nothing else ever points into `bytes` (a body
  // that stayed lent without completing its request is copied before return).
  feed_result feed_lent(std::span<const char> bytes);
  // After message_complete: current().body points into bytes lent to feed_lent().
  bool body_lent() const;
  // Copies a lent body into the parser's own buffer (current().body then
  // points there), for a request the caller keeps past the loan. No-op when
  // the body is the parser's own already.
  void keep_body();

  const request& current() const;

  // After message_complete: forget the request and get ready for the next one
  // on the same connection (keeps buffer capacity: no allocation per request).
  void next();

  // Drops everything, as for a fresh connection (keeps capacity up to a bound).
  void reset();

  // Between requests (after next() or reset(), before the next byte): frees
  // every buffer a request grew, so an idle connection holds only the parser
  // itself. The next request allocates them again. No-op inside a request.
  void shrink();
  // Heap bytes the parser's buffers hold now (head, header index, body).
  std::size_t held_bytes() const;

  // True while inside a request (some of its bytes were fed, not yet complete).
  bool in_request() const;

  // Signals end of input (peer closed). Returns message_complete for an
  // HTTP/1.0-style body ended by close (never for requests), or error if a
  // request was cut in the middle, else need_more.
  feed_result finish();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::http
