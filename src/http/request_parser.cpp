// SPDX-License-Identifier: Apache-2.0
// request_parser: llhttp callbacks copy the head into a bounded buffer and the
// body into a contiguous padded buffer (or, fed lent bytes that hold a whole
// Content-Length body, point at it where it lies); pausing llhttp in on_headers_complete
// and on_message_complete turns its push callbacks into feed() events, one per
// request, with exact byte counts so pipelined requests are served in order.
// Every verdict is taken at a byte, never at the end of a feed() (llhttp hands
// over a partial span there), so the same bytes split anywhere get the same
// answer.
#include "tollgate/http/request_parser.hpp"

#include <llhttp.h>

#include "llhttp_callbacks.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

namespace tg::http {
namespace {

// Body capacity kept by reset() (fresh connection) and by next() (same
// connection): beyond these the buffer is freed so idle or mostly-small
// connections do not pin memory a rare large request grew.
constexpr std::size_t reset_keep_capacity = 64 * 1024;
constexpr std::size_t next_keep_capacity = 1024 * 1024;
constexpr std::size_t min_body_capacity = 256;

// llhttp needs a non-null pointer even for an empty feed (span bookkeeping).
constexpr char empty_input[1] = {0};

enum class phase : std::uint8_t { idle, head, body, done, failed };
enum class hdr_state : std::uint8_t { none, field, value };

struct field_offsets {
  std::uint32_t name_off, name_len, value_off, value_len;
};

// Byte classes for the per-header work: ASCII lower-casing and RFC 9110 tchar.
struct byte_tables {
  unsigned char lower[256];
  bool tchar[256];
  constexpr byte_tables() : lower(), tchar() {
    for (int c = 0; c < 256; ++c) {
      lower[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      tchar[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) tchar[static_cast<unsigned char>(c)] = true;
  }
};
constexpr byte_tables tables;

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (tables.lower[static_cast<unsigned char>(a[i])] != tables.lower[static_cast<unsigned char>(b[i])])
      return false;
  return true;
}

// llhttp's default (loose) build lets a space or other separators into a
// field name ("Bad Name: x", "Content-Length : 5"); a name that is not a
// token is refused here so no such field reaches the caller.
bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!tables.tchar[static_cast<unsigned char>(c)]) return false;
  return true;
}

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view v) noexcept {
  while (!v.empty() && is_ows(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_ows(v.back())) v.remove_suffix(1);
  return v;
}

method map_method(std::uint8_t m) noexcept {
  switch (m) {
    case HTTP_GET: return method::get;
    case HTTP_HEAD: return method::head;
    case HTTP_POST: return method::post;
    case HTTP_PUT: return method::put;
    case HTTP_DELETE: return method::del;
    case HTTP_PATCH: return method::patch;
    case HTTP_OPTIONS: return method::options;
    default: return method::other;
  }
}

}  // namespace

std::string_view request::header(std::string_view name) const {
  for (std::size_t i = 0; i < header_count; ++i)
    if (iequals(fields[i].first, name)) return fields[i].second;
  return {};
}

struct request_parser::impl {
  parser_limits limits;
  llhttp_t llp{};
  request req;
  phase ph = phase::idle;
  event pending_event = event::need_more;   // set by a pausing callback
  parse_errc pending_error = parse_errc::none;  // set by a failing callback
  parse_errc error = parse_errc::none;      // sticky once ph == failed
  std::size_t head_raw = 0;                 // raw bytes consumed for this head
  bool trailers_next = false;               // paused at the last chunk: trailers follow
  bool in_trailers = false;
  std::size_t trailer_raw = 0;              // raw bytes consumed for the trailers
  std::size_t trailer_fields = 0;

  std::string head;                         // copied URL + header names/values
  std::size_t url_len = 0;
  hdr_state hs = hdr_state::none;
  field_offsets cur{};
  std::vector<field_offsets> offsets;
  std::vector<std::pair<std::string_view, std::string_view>> views;

  char* body = nullptr;                     // malloc'd; body_len + body_padding <= body_cap
  std::size_t body_len = 0;
  std::size_t body_cap = 0;
  bool lending = false;                     // inside feed_lent()
  const char* lent_body = nullptr;          // the body, body_len bytes, in lent input; null when copied

  explicit impl(const parser_limits& l) : limits(l) {
    llhttp_init(&llp, HTTP_REQUEST, &detail::llhttp_callbacks<impl>());
    llp.data = this;
  }
  ~impl() { std::free(body); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  static impl& self(llhttp_t* p) { return *static_cast<impl*>(p->data); }

  int fail(parse_errc e) {
    pending_error = e;
    return -1;
  }

  // Copies llhttp's bytes into the head buffer; the raw-byte bound in feed()
  // already keeps it under max_head_bytes, this is the belt to those braces.
  bool append_head(const char* at, std::size_t n) {
    if (head.size() + n > limits.max_head_bytes) return false;
    head.append(at, n);
    return true;
  }

  bool reserve_body(std::size_t need) {
    if (need <= body_cap) return true;
    std::size_t cap = body_cap < min_body_capacity ? min_body_capacity : body_cap;
    while (cap < need) cap *= 2;
    std::size_t max_cap = limits.max_body_bytes + body_padding;
    if (cap > max_cap) cap = max_cap > need ? max_cap : need;
    char* p = static_cast<char*>(std::realloc(body, cap));
    if (p == nullptr) return false;
    body = p;
    body_cap = cap;
    return true;
  }

  void release_body_above(std::size_t keep) {
    if (body_cap > keep) {
      std::free(body);
      body = nullptr;
      body_cap = 0;
    }
  }

  void clear_request() {
    req = request{};
    ph = phase::idle;
    pending_event = event::need_more;
    pending_error = parse_errc::none;
    head_raw = 0;
    trailers_next = false;
    in_trailers = false;
    trailer_raw = 0;
    trailer_fields = 0;
    head.clear();
    url_len = 0;
    hs = hdr_state::none;
    offsets.clear();
    views.clear();
    body_len = 0;
    lent_body = nullptr;
  }

  // A lent body becomes the parser's own (followed by zeroed padding).
  void own_body() {
    if (lent_body == nullptr) return;
    if (!reserve_body(body_len + body_padding)) throw std::bad_alloc();
    std::memcpy(body, lent_body, body_len);
    std::memset(body + body_len, 0, body_padding);
    lent_body = nullptr;
    if (ph == phase::done) req.body = std::string_view(body, body_len);
  }

  static int on_message_begin(llhttp_t* p) {
    impl& s = self(p);
    s.ph = phase::head;
    return 0;
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (!s.append_head(at, n)) return s.fail(parse_errc::head_too_large);
    s.url_len += n;
    return 0;
  }

  // Trailers (after a chunked body) also arrive as header callbacks. The head
  // views are live by then, so trailers are never stored: their bytes are
  // bounded in feed() like the head's, their fields counted here.
  //
  // A field counts when its name is complete (at its ':'), not at its first
  // bytes: llhttp hands a partial name over at the end of each feed(), so a
  // count taken there would depend on where the bytes were split (431 when
  // split inside the name, 400 when a bad byte follows in one piece).
  static int on_header_field(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (s.ph == phase::body) {
      s.hs = hdr_state::field;
      return 0;
    }
    if (s.hs != hdr_state::field) {
      s.hs = hdr_state::field;
      s.cur = {static_cast<std::uint32_t>(s.head.size()), 0, 0, 0};
    }
    if (!s.append_head(at, n)) return s.fail(parse_errc::head_too_large);
    return 0;
  }

  static int on_header_field_complete(llhttp_t* p) {
    impl& s = self(p);
    if (s.ph == phase::body) {
      s.hs = hdr_state::value;
      return ++s.trailer_fields > s.limits.max_headers ? s.fail(parse_errc::head_too_large) : 0;
    }
    if (s.offsets.size() >= s.limits.max_headers) return s.fail(parse_errc::head_too_large);
    if (s.hs != hdr_state::field) {  // defensive: a name llhttp never spanned
      s.cur = {static_cast<std::uint32_t>(s.head.size()), 0, 0, 0};
    }
    s.cur.name_len = static_cast<std::uint32_t>(s.head.size() - s.cur.name_off);
    if (!is_token(std::string_view(s.head.data() + s.cur.name_off, s.cur.name_len)))
      return s.fail(parse_errc::malformed);
    s.cur.value_off = static_cast<std::uint32_t>(s.head.size());
    s.hs = hdr_state::value;
    return 0;
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (s.ph == phase::body) return 0;
    if (!s.append_head(at, n)) return s.fail(parse_errc::head_too_large);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* p) {
    impl& s = self(p);
    if (s.hs != hdr_state::value) return 0;
    if (s.ph == phase::body) {
      s.hs = hdr_state::none;
      return 0;
    }
    s.cur.value_len = static_cast<std::uint32_t>(s.head.size() - s.cur.value_off);
    s.offsets.push_back(s.cur);
    s.hs = hdr_state::none;
    return 0;
  }

  static int on_headers_complete(llhttp_t* p) {
    impl& s = self(p);
    if (p->http_major != 1 || p->http_minor > 1) return s.fail(parse_errc::version_unsupported);
    // We never switch protocols: an Upgrade (or CONNECT) request is served as
    // an ordinary request, which RFC 9110 section 7.8 allows.
    p->upgrade = 0;
    s.fill_head();
    request& r = s.req;
    if (r.has_content_length && r.content_length > s.limits.max_body_bytes)
      return s.fail(parse_errc::body_too_large);
    // Fed lent bytes, the body may not need the buffer at all: on_body
    // reserves it once it knows.
    if (r.has_content_length && !r.chunked && !s.lending && !s.reserve_body(r.content_length + body_padding))
      return s.fail(parse_errc::body_too_large);
    s.ph = phase::body;
    s.pending_event = event::head_complete;
    return HPE_PAUSED;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t n) {
    impl& s = self(p);
    if (n > s.limits.max_body_bytes - s.body_len) return s.fail(parse_errc::body_too_large);
    const bool sized = s.req.has_content_length && !s.req.chunked;
    if (s.lending && sized && s.body_len == 0 && n == s.req.content_length) {
      // The whole body is in the lent bytes (llhttp hands a Content-Length
      // body over in one span per execute): used where it lies.
      s.lent_body = at;
      s.body_len = n;
      return 0;
    }
    // A Content-Length body gets its whole buffer on its first bytes.
    std::size_t need = s.body_len + n;
    if (sized && need < s.req.content_length) need = s.req.content_length;
    if (!s.reserve_body(need + body_padding)) return s.fail(parse_errc::body_too_large);
    std::memcpy(s.body + s.body_len, at, n);
    s.body_len += n;
    return 0;
  }

  // A chunk announcing more than the body has room for fails before its data
  // arrives (llhttp holds the chunk size in content_length here). The last
  // chunk pauses, so that feed() bounds the trailers from their first byte.
  static int on_chunk_header(llhttp_t* p) {
    impl& s = self(p);
    if (p->content_length > s.limits.max_body_bytes - s.body_len) return s.fail(parse_errc::body_too_large);
    if (p->content_length != 0) return 0;
    s.trailers_next = true;
    return HPE_PAUSED;
  }

  static int on_message_complete(llhttp_t* p) {
    impl& s = self(p);
    if (s.lent_body != nullptr) {
      s.req.body = std::string_view(s.lent_body, s.body_len);  // the lender's padding follows
    } else {
      if (!s.reserve_body(s.body_len + body_padding)) return s.fail(parse_errc::body_too_large);
      std::memset(s.body + s.body_len, 0, body_padding);
      s.req.body = std::string_view(s.body, s.body_len);
    }
    s.ph = phase::done;
    s.pending_event = event::message_complete;
    return HPE_PAUSED;
  }

  // The head buffer stops growing here, so its views are now stable.
  void fill_head() {
    request& r = req;
    r.verb = map_method(llp.method);
    r.method_name = llhttp_method_name(static_cast<llhttp_method_t>(llp.method));
    r.target = std::string_view(head.data(), url_len);
    r.path = r.target.substr(0, r.target.find('?'));
    r.version_major = llp.http_major;
    r.version_minor = llp.http_minor;
    r.keep_alive = llhttp_should_keep_alive(&llp) != 0;
    r.chunked = (llp.flags & F_CHUNKED) != 0;
    r.has_content_length = (llp.flags & F_CONTENT_LENGTH) != 0;
    r.content_length = r.has_content_length ? llp.content_length : 0;
    views.clear();
    for (const field_offsets& o : offsets) {
      std::string_view name(head.data() + o.name_off, o.name_len);
      std::string_view value = trim_ows(std::string_view(head.data() + o.value_off, o.value_len));
      views.emplace_back(name, value);
      if (!r.has_content_type && iequals(name, "content-type")) {
        r.has_content_type = true;
        r.content_type = value;
      } else if (r.authorization.empty() && iequals(name, "authorization")) {
        r.authorization = value;
      } else if (iequals(name, "expect") && iequals(value, "100-continue")) {
        // RFC 9110 section 10.1.1: ignore Expect from an HTTP/1.0 client.
        r.expect_continue = r.version_minor >= 1;
      }
    }
    r.fields = views.data();
    r.header_count = views.size();
  }

  parse_errc map_error(llhttp_errno_t e) const {
    if (pending_error != parse_errc::none) return pending_error;
    if (e == HPE_PAUSED_H2_UPGRADE) return parse_errc::h2_preface;
    // llhttp 8.1 says "Invalid HTTP version" once both digits parsed but the
    // pair is not one it knows (HTTP/3.0, HTTP/1.2): that is 505. Anything
    // else in the version slot ("Invalid major version", "Expected dot") is
    // a malformed request line.
    if (e == HPE_INVALID_VERSION && llp.reason != nullptr &&
        std::strcmp(llp.reason, "Invalid HTTP version") == 0)
      return parse_errc::version_unsupported;
    return parse_errc::malformed;
  }

  feed_result feed(std::span<const char> bytes) {
    if (ph == phase::failed) return {event::error, 0, error};
    if (ph == phase::done) clear_request();  // caller skipped next()
    const char* const start = bytes.empty() ? empty_input : bytes.data();
    std::size_t done = 0;  // bytes of `bytes` llhttp has taken
    for (;;) {
      const char* data = start + done;
      const std::size_t rest = bytes.size() - done;
      // Bound the request line + headers, and the trailers, by what llhttp
      // may look at: a head (or trailer section) still incomplete when the
      // slice is used up is too large, whatever its shape, and nothing past
      // the bound is ever copied or scanned.
      const bool in_head = ph == phase::idle || ph == phase::head;
      const bool bounded = in_head || in_trailers;
      std::size_t& raw = in_head ? head_raw : trailer_raw;
      std::size_t slice = rest;
      if (bounded && slice > limits.max_head_bytes - raw) slice = limits.max_head_bytes - raw;

      llhttp_resume(&llp);  // no-op unless paused by the previous event
      pending_event = event::need_more;
      llhttp_errno_t e = llhttp_execute(&llp, data, slice);
      if (e == HPE_OK) {
        if (bounded) raw += slice;
        if (bounded && slice < rest) return set_failed(parse_errc::head_too_large, done + slice);
        return {event::need_more, done + slice, parse_errc::none};
      }
      const char* pos = llhttp_get_error_pos(&llp);
      std::size_t used = (pos >= data && pos <= data + slice) ? static_cast<std::size_t>(pos - data) : 0;
      if (e == HPE_PAUSED && trailers_next) {  // the last chunk: trailers start here
        trailers_next = false;
        in_trailers = true;
        done += used;
        continue;
      }
      if (e == HPE_PAUSED && pending_event != event::need_more) {
        if (bounded) raw += used;
        return {pending_event, done + used, parse_errc::none};
      }
      return set_failed(map_error(e), done + used);
    }
  }

  feed_result set_failed(parse_errc e, std::size_t used) {
    ph = phase::failed;
    error = e;
    return {event::error, used, e};
  }
};

request_parser::request_parser(const parser_limits& limits) : impl_(std::make_unique<impl>(limits)) {}
request_parser::~request_parser() = default;
request_parser::request_parser(request_parser&&) noexcept = default;
request_parser& request_parser::operator=(request_parser&&) noexcept = default;

feed_result request_parser::feed(std::span<const char> bytes) { return impl_->feed(bytes); }

feed_result request_parser::feed_lent(std::span<const char> bytes) {
  impl& s = *impl_;
  s.lending = true;
  const feed_result r = s.feed(bytes);
  s.lending = false;
  // Only a completed request may keep pointing into the loan (llhttp reports
  // the end of a Content-Length body in the execute that consumed it, so this
  // is a belt, not a path).
  if (s.ph != phase::done) s.own_body();
  return r;
}

bool request_parser::body_lent() const { return impl_->lent_body != nullptr; }

void request_parser::keep_body() { impl_->own_body(); }

const request& request_parser::current() const { return impl_->req; }

void request_parser::next() {
  if (impl_->ph != phase::done) {
    reset();
    return;
  }
  impl_->release_body_above(next_keep_capacity);
  impl_->clear_request();
}

void request_parser::reset() {
  impl& s = *impl_;
  s.clear_request();
  s.error = parse_errc::none;
  s.release_body_above(reset_keep_capacity);
  llhttp_reset(&s.llp);
}

void request_parser::shrink() {
  impl& s = *impl_;
  if (s.ph != phase::idle) return;
  std::string().swap(s.head);
  std::vector<field_offsets>().swap(s.offsets);
  std::vector<std::pair<std::string_view, std::string_view>>().swap(s.views);
  s.release_body_above(0);
}

std::size_t request_parser::held_bytes() const {
  const impl& s = *impl_;
  const std::size_t head = s.head.capacity() > 15 ? s.head.capacity() : 0;  // beyond the in-object buffer
  return head + s.offsets.capacity() * sizeof(field_offsets) +
         s.views.capacity() * sizeof(std::pair<std::string_view, std::string_view>) + s.body_cap;
}

bool request_parser::in_request() const { return impl_->ph == phase::head || impl_->ph == phase::body; }

feed_result request_parser::finish() {
  impl& s = *impl_;
  if (s.ph == phase::failed) return {event::error, 0, s.error};
  // Requests never end by close (RFC 9112 section 6.3): a cut one is malformed.
  if (s.ph == phase::head || s.ph == phase::body) return s.set_failed(parse_errc::malformed, 0);
  return {event::need_more, 0, parse_errc::none};
}

}  // namespace tg::http
