// SPDX-License-Identifier: Apache-2.0
// response_stream: llhttp in HTTP_RESPONSE mode, pausing after the head and
// after each message, so the caller writes the head on before any body byte
// and matches one response to one request. Body bytes go straight from
// llhttp's callback into the caller's buffer: no copy kept here.
#include "tollgate/http/text.hpp"
#include "tollgate/http/response_stream.hpp"

#include <llhttp.h>

#include "llhttp_callbacks.hpp"

#include <vector>

namespace tg::http {
namespace {

constexpr char empty_input[1] = {0};

enum class phase : std::uint8_t { idle, head, body, done, failed };

struct field_offsets {
  std::uint32_t name_off, name_len, value_off, value_len;
};

}  // namespace

std::string_view response_head::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

struct response_stream::impl {
  stream_limits limits;
  llhttp_t llp{};
  response_head h;
  phase ph = phase::idle;
  bool head_request = false;
  bool interim = false;         // the response being parsed is a 1xx
  bool head_reported = false;
  bool pending_complete = false;  // message_complete still to report (a bodiless answer)
  bool paused_head = false;
  bool paused_complete = false;
  bool failed_cb = false;
  bool keep = false;
  std::size_t head_raw = 0;
  std::string head;             // reason + header names and values
  std::size_t reason_len = 0;
  bool in_name = false;
  field_offsets cur{};
  std::vector<field_offsets> offsets;
  std::vector<std::pair<std::string_view, std::string_view>> views;
  std::string* body = nullptr;  // the caller's buffer during one feed()

  explicit impl(const stream_limits& l) : limits(l) {
    llhttp_init(&llp, HTTP_RESPONSE, &detail::llhttp_callbacks<impl>());
    llp.data = this;
  }

  static impl& self(llhttp_t* p) { return *static_cast<impl*>(p->data); }

  void clear_head() {
    h = response_head{};
    head.clear();
    reason_len = 0;
    in_name = false;
    offsets.clear();
    views.clear();
  }

  bool append_head(const char* at, std::size_t n) {
    if (head.size() + n > limits.max_head_bytes) return false;
    head.append(at, n);
    return true;
  }

  static int on_message_begin(llhttp_t* p) {
    impl& s = self(p);
    s.clear_head();
    s.ph = phase::head;
    s.interim = false;
    return 0;
  }

  static int on_status(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (!s.append_head(at, n)) return s.fail();
    s.reason_len += n;
    return 0;
  }

  int fail() {
    failed_cb = true;
    return -1;
  }

  // Trailers after a chunked body come through the same callbacks: never
  // kept (the head's views are live by then), and llhttp holds none of them.
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (s.ph == phase::body) return 0;
    if (!s.in_name) {
      if (s.offsets.size() >= s.limits.max_headers) return s.fail();
      s.cur = {static_cast<std::uint32_t>(s.head.size()), 0, 0, 0};
      s.in_name = true;
    }
    return s.append_head(at, n) ? 0 : s.fail();
  }

  static int on_header_field_complete(llhttp_t* p) {
    impl& s = self(p);
    if (s.ph == phase::body) return 0;
    if (!s.in_name) s.cur = {static_cast<std::uint32_t>(s.head.size()), 0, 0, 0};
    s.cur.name_len = static_cast<std::uint32_t>(s.head.size() - s.cur.name_off);
    s.cur.value_off = static_cast<std::uint32_t>(s.head.size());
    s.in_name = false;
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (s.ph == phase::body) return 0;
    return s.append_head(at, n) ? 0 : s.fail();
  }

  static int on_header_value_complete(llhttp_t* p) {
    impl& s = self(p);
    if (s.ph == phase::body) return 0;
    s.cur.value_len = static_cast<std::uint32_t>(s.head.size() - s.cur.value_off);
    s.offsets.push_back(s.cur);
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    impl& s = self(p);
    const int st = p->status_code;
    if (st == 101) return s.fail();
    s.ph = phase::body;
    if (st / 100 == 1) {
      s.interim = true;
      return 1;  // no body; skipped in on_message_complete
    }
    response_head& r = s.h;
    r.status = st;
    r.version_minor = p->http_minor;
    r.reason = std::string_view(s.head.data(), s.reason_len);
    r.chunked = (p->flags & F_CHUNKED) != 0;
    r.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
    r.content_length = r.has_content_length ? p->content_length : 0;
    // RFC 9112 section 6.3: the answer to HEAD, 204 and 304 end at their head.
    r.no_body = s.head_request || st == 204 || st == 304;
    r.body_until_close = !r.no_body && !r.chunked && !r.has_content_length;
    s.views.clear();
    for (const field_offsets& o : s.offsets) {
      s.views.emplace_back(std::string_view(s.head.data() + o.name_off, o.name_len),
                           trim_ows(std::string_view(s.head.data() + o.value_off, o.value_len)));
    }
    r.headers = {s.views.data(), s.views.size()};
    if (r.no_body) return 1;  // reported with the message's end
    s.paused_head = true;
    return HPE_PAUSED;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (s.body != nullptr) s.body->append(at, n);
    return 0;
  }

  static int on_message_complete(llhttp_t* p) {
    impl& s = self(p);
    if (s.interim) {
      s.interim = false;
      s.ph = phase::idle;
      return 0;  // a 1xx: go on with the final response
    }
    s.keep = llhttp_should_keep_alive(p) != 0;
    s.ph = phase::done;
    s.paused_complete = true;
    return HPE_PAUSED;
  }

  stream_result fail_now(std::size_t used) {
    ph = phase::failed;
    return {stream_event::error, used};
  }

  stream_result feed(std::span<const char> bytes, std::string& out) {
    if (ph == phase::failed) return {stream_event::error, 0};
    if (pending_complete) {
      pending_complete = false;
      return {stream_event::message_complete, 0};
    }
    if (ph == phase::done) return bytes.empty() ? stream_result{} : fail_now(0);  // bytes after the response
    const char* data = bytes.empty() ? empty_input : bytes.data();
    const bool in_head = ph == phase::idle || ph == phase::head;
    std::size_t slice = bytes.size();
    if (in_head && slice > limits.max_head_bytes - head_raw) slice = limits.max_head_bytes - head_raw;
    body = &out;
    llhttp_resume(&llp);
    paused_head = paused_complete = false;
    const llhttp_errno_t e = llhttp_execute(&llp, data, slice);
    body = nullptr;
    if (e == HPE_OK) {
      if (ph == phase::idle || ph == phase::head) {
        head_raw += slice;
        if (slice < bytes.size()) return fail_now(slice);
      }
      return {stream_event::need_more, slice};
    }
    const char* pos = llhttp_get_error_pos(&llp);
    const std::size_t used = (pos >= data && pos <= data + slice) ? static_cast<std::size_t>(pos - data) : 0;
    if (e == HPE_PAUSED && paused_head) {
      head_reported = true;
      return {stream_event::head_complete, used};
    }
    if (e == HPE_PAUSED && paused_complete) {
      if (!head_reported) {
        head_reported = true;
        pending_complete = true;
        return {stream_event::head_complete, used};
      }
      return {stream_event::message_complete, used};
    }
    (void)failed_cb;
    return fail_now(used);
  }

  stream_result finish(std::string& out) {
    if (ph == phase::failed) return {stream_event::error, 0};
    if (pending_complete) {
      pending_complete = false;
      return {stream_event::message_complete, 0};
    }
    if (ph == phase::idle || ph == phase::done) return {};
    if (ph != phase::body || !h.body_until_close) return fail_now(0);
    body = &out;
    llhttp_resume(&llp);
    paused_complete = false;
    llhttp_finish(&llp);
    body = nullptr;
    if (!paused_complete) return fail_now(0);
    keep = false;
    return {stream_event::message_complete, 0};
  }
};

response_stream::response_stream(const stream_limits& limits) : impl_(std::make_unique<impl>(limits)) {}
response_stream::~response_stream() = default;

void response_stream::start(bool head_request) {
  impl& s = *impl_;
  s.clear_head();
  s.ph = phase::idle;
  s.head_request = head_request;
  s.interim = s.head_reported = s.pending_complete = s.paused_head = s.paused_complete = s.failed_cb = false;
  s.keep = false;
  s.head_raw = 0;
  llhttp_reset(&s.llp);
}

stream_result response_stream::feed(std::span<const char> bytes, std::string& body) { return impl_->feed(bytes, body); }
stream_result response_stream::finish(std::string& body) { return impl_->finish(body); }
const response_head& response_stream::head() const { return impl_->h; }
bool response_stream::keep_alive() const { return impl_->keep; }
bool response_stream::started() const { return impl_->ph != phase::idle; }

}  // namespace tg::http
