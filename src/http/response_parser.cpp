// SPDX-License-Identifier: Apache-2.0
// response_parser: llhttp in HTTP_RESPONSE mode. Only what a client acts on is
// kept (status, framing, keep-alive, Retry-After, a bounded body); pausing in
// on_message_complete turns llhttp's callbacks into one feed() event per
// response, and interim 1xx responses pause too so feed() can skip them with
// exact byte accounting.
#include "tollgate/http/text.hpp"
#include "tollgate/http/response_parser.hpp"

#include <llhttp.h>

#include "llhttp_callbacks.hpp"

#include <string>

namespace tg::http {
namespace {

// Longest header name we care to recognise ("retry-after"); longer names are
// skipped without being copied.
constexpr std::size_t max_tracked_name = 16;
// A kept body's capacity beyond this is released by reset(), so a rare large
// error body does not stay pinned to an idle connection.
constexpr std::size_t reset_keep_capacity = 16 * 1024;

// llhttp needs a non-null pointer even for an empty feed.
constexpr char empty_input[1] = {0};

enum class phase : std::uint8_t { idle, head, body, done, failed };

}  // namespace

struct response_parser::impl {
  response_limits limits;
  llhttp_t llp{};
  response resp;
  phase ph = phase::idle;
  bool paused_complete = false;  // set by on_message_complete for a final response
  bool paused_interim = false;   // set by on_message_complete for a 1xx
  response_errc pending_error = response_errc::none;
  response_errc error = response_errc::none;
  std::size_t head_raw = 0;      // raw bytes of the current head seen so far
  std::size_t fields = 0;        // header fields (and trailers) of the current response

  std::string name;              // current header name, up to max_tracked_name
  bool name_overflow = false;
  bool in_value = false;
  bool value_is_retry_after = false;
  std::string retry_after;
  bool retry_after_overflow = false;
  std::string body;

  explicit impl(const response_limits& l) : limits(l) {
    llhttp_init(&llp, HTTP_RESPONSE, &detail::llhttp_callbacks<impl>());
    llp.data = this;
  }

  static impl& self(llhttp_t* p) { return *static_cast<impl*>(p->data); }

  int fail(response_errc e) {
    pending_error = e;
    return -1;
  }

  void clear_response() {
    resp = response{};
    ph = phase::idle;
    paused_complete = false;
    paused_interim = false;
    pending_error = response_errc::none;
    head_raw = 0;
    fields = 0;
    name.clear();
    name_overflow = false;
    in_value = false;
    value_is_retry_after = false;
    retry_after.clear();
    retry_after_overflow = false;
    body.clear();
  }

  static int on_message_begin(llhttp_t* p) {
    self(p).ph = phase::head;
    return 0;
  }

  // Trailers after a chunked body arrive through the same callbacks; they are
  // counted against max_headers and otherwise ignored.
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (s.in_value || (s.name.empty() && !s.name_overflow)) {
      s.in_value = false;
      s.name.clear();
      s.name_overflow = false;
    }
    if (s.name.size() + n > max_tracked_name) s.name_overflow = true;
    else s.name.append(at, n);
    return 0;
  }

  // A field counts when its name is complete (at its ':'), not at its first
  // bytes: llhttp hands a partial name over at the end of each feed(), so a
  // count taken there would depend on where the bytes were split.
  static int on_header_field_complete(llhttp_t* p) {
    impl& s = self(p);
    return ++s.fields > s.limits.max_headers ? s.fail(response_errc::head_too_large) : 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (!s.in_value) {
      s.in_value = true;
      s.value_is_retry_after = s.ph == phase::head && !s.name_overflow && !s.resp.has_retry_after &&
                               iequals(s.name, "retry-after");
    }
    if (!s.value_is_retry_after) return 0;
    if (s.retry_after.size() + n > max_retry_after_bytes) s.retry_after_overflow = true;
    else s.retry_after.append(at, n);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    impl& s = self(p);
    if (!s.in_value) {  // an empty value: llhttp calls no on_header_value
      s.in_value = true;
      s.value_is_retry_after = s.ph == phase::head && !s.name_overflow && !s.resp.has_retry_after &&
                               iequals(s.name, "retry-after");
    }
    if (s.value_is_retry_after && !s.retry_after_overflow) {
      s.resp.has_retry_after = true;
      s.resp.retry_after = trim_ows(s.retry_after);
    }
    s.value_is_retry_after = false;
    s.name.clear();
    s.name_overflow = false;
    s.in_value = false;
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    impl& s = self(p);
    if (p->status_code == 101) return s.fail(response_errc::malformed);
    response& r = s.resp;
    r.status = p->status_code;
    r.version_major = p->http_major;
    r.version_minor = p->http_minor;
    r.chunked = (p->flags & F_CHUNKED) != 0;
    r.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
    r.content_length = r.has_content_length ? p->content_length : 0;
    s.ph = phase::body;
    // RFC 9112 section 6.3: 1xx, 204 and 304 end at their head whatever
    // Content-Length says; llhttp 8.1 would read a 304's announced body.
    // Returning 1 tells llhttp to skip the body.
    const int st = p->status_code;
    return (st / 100 == 1 || st == 204 || st == 304) ? 1 : 0;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    s.resp.body_bytes += n;
    if (!s.limits.keep_body) {
      s.resp.body_truncated = true;
      return 0;
    }
    std::size_t room = s.limits.max_body_bytes - s.body.size();
    if (n > room) {
      s.resp.body_truncated = true;
      n = room;
    }
    s.body.append(at, n);
    return 0;
  }

  static int on_message_complete(llhttp_t* p) {
    impl& s = self(p);
    if (p->status_code / 100 == 1) {
      s.paused_interim = true;
      return HPE_PAUSED;
    }
    s.resp.keep_alive = llhttp_should_keep_alive(p) != 0;
    s.resp.body = s.body;
    s.ph = phase::done;
    s.paused_complete = true;
    return HPE_PAUSED;
  }

  response_feed_result set_failed(response_errc e, std::size_t used) {
    ph = phase::failed;
    error = e;
    return {response_event::error, used, e};
  }

  response_errc map_error() const {
    return pending_error != response_errc::none ? pending_error : response_errc::malformed;
  }

  // One llhttp_execute over at most the head budget; an interim 1xx pauses
  // it, and the loop in feed() starts the next response's budget afresh.
  response_feed_result feed_once(const char* data, std::size_t len) {
    const bool in_head = ph == phase::idle || ph == phase::head;
    std::size_t slice = len;
    if (in_head && slice > limits.max_head_bytes - head_raw) slice = limits.max_head_bytes - head_raw;
    llhttp_resume(&llp);
    paused_complete = false;
    paused_interim = false;
    const llhttp_errno_t e = llhttp_execute(&llp, data, slice);
    if (e == HPE_OK) {
      if (ph == phase::idle || ph == phase::head) {
        head_raw += slice;
        if (slice < len) return set_failed(response_errc::head_too_large, slice);
      }
      return {response_event::need_more, slice, response_errc::none};
    }
    const char* pos = llhttp_get_error_pos(&llp);
    const std::size_t used = (pos >= data && pos <= data + slice) ? static_cast<std::size_t>(pos - data) : 0;
    if (e == HPE_PAUSED && paused_complete) return {response_event::response_complete, used, response_errc::none};
    if (e == HPE_PAUSED && paused_interim) {
      clear_response();
      return {response_event::need_more, used, response_errc::none};
    }
    return set_failed(map_error(), used);
  }

  response_feed_result feed(std::span<const char> bytes) {
    if (ph == phase::failed) return {response_event::error, 0, error};
    if (ph == phase::done) clear_response();  // caller skipped next()
    const char* data = bytes.empty() ? empty_input : bytes.data();
    std::size_t off = 0;
    for (;;) {
      response_feed_result r = feed_once(data + off, bytes.size() - off);
      off += r.consumed;
      r.consumed = off;
      // need_more with bytes left over means a 1xx was skipped: go on.
      if (r.ev != response_event::need_more || off >= bytes.size()) return r;
    }
  }
};

response_parser::response_parser(const response_limits& limits) : impl_(std::make_unique<impl>(limits)) {}
response_parser::~response_parser() = default;
response_parser::response_parser(response_parser&&) noexcept = default;
response_parser& response_parser::operator=(response_parser&&) noexcept = default;

response_feed_result response_parser::feed(std::span<const char> bytes) { return impl_->feed(bytes); }

const response& response_parser::current() const { return impl_->resp; }

void response_parser::next() {
  if (impl_->ph != phase::done) {
    reset();
    return;
  }
  impl_->clear_response();
}

void response_parser::reset() {
  impl& s = *impl_;
  s.clear_response();
  s.error = response_errc::none;
  if (s.body.capacity() > reset_keep_capacity) std::string().swap(s.body);
  llhttp_reset(&s.llp);
}

bool response_parser::in_response() const { return impl_->ph == phase::head || impl_->ph == phase::body; }

response_feed_result response_parser::finish() {
  impl& s = *impl_;
  if (s.ph == phase::failed) return {response_event::error, 0, s.error};
  if (s.ph != phase::head && s.ph != phase::body) return {response_event::need_more, 0, response_errc::none};
  // llhttp completes a body delimited by EOF here (on_message_complete), and
  // calls anything else cut short an invalid EOF state.
  llhttp_resume(&s.llp);
  s.paused_complete = false;
  const llhttp_errno_t e = llhttp_finish(&s.llp);
  if (s.paused_complete) {
    s.resp.keep_alive = false;
    return {response_event::response_complete, 0, response_errc::none};
  }
  (void)e;
  return s.set_failed(response_errc::malformed, 0);
}

}  // namespace tg::http
