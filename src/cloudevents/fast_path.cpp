// SPDX-License-Identifier: Apache-2.0
// The fast path over simdjson's structural index (fast_path.hpp). On-Demand
// keeps its position in memory and reloads it at every token, a store-to-load
// chain of several cycles per token; here it stays in a register. Each rule is
// the general walk's (event_check.cpp) narrowed: any doubt returns false, and
// the general walk decides, so this path can only accept what that one does.
#include "fast_path.hpp"

#include <cstdint>

#include "attr.hpp"
#include "json_scan.hpp"
#include "rfc3339.hpp"
#include "uri_ref.hpp"

namespace tg::cloudevents::detail {
namespace {

// Nesting the fast path follows inside `data` (one bit per level); deeper
// values go to the general walk, which allows 256.
constexpr unsigned fast_depth = 64;

// The bytes of a scalar token: from its first byte to the next token, less
// white space.
[[gnu::always_inline]] inline std::string_view token(const char* b, const char* next) noexcept {
  while (is_ws(next[-1])) --next;
  return {b, static_cast<std::size_t>(next - b)};
}

// The body of a string token starting at b (its opening quote): stage 1 has
// checked that it closes, and only white space lies between its closing quote
// and the next token.
[[gnu::always_inline]] inline std::string_view string_at(const char* b, const char* next) noexcept {
  while (is_ws(next[-1])) --next;
  return {b + 1, static_cast<std::size_t>(next - b - 2)};
}

// An extension attribute's number, as sdk-go keeps it: an integer within
// int32 range. Only the plain integer form; 1.0 or 1e2 go to the general walk.
inline bool int32_token(std::string_view t) noexcept {
  std::size_t i = t[0] == '-' ? 1 : 0;
  const std::size_t digits = t.size() - i;
  if (digits == 0 || digits > 10 || (t[i] == '0' && digits != 1)) return false;
  std::int64_t v = 0;
  for (; i < t.size(); ++i) {
    if (!is_digit(t[i])) return false;
    v = v * 10 + (t[i] - '0');
  }
  return t[0] == '-' ? v <= 2147483648ll : v <= 2147483647ll;
}

inline bool literal(std::string_view t) noexcept { return t == "true" || t == "false" || t == "null"; }

struct walker {
  const char* buf;
  const std::uint32_t* p;    // the next token
  const std::uint32_t* end;  // past the last token

  bool event(event_ref& ev, api version) noexcept;
  bool container() noexcept;
};

// One event object; p stands on its '{' and is left past its '}'.
bool walker::event(event_ref& ev, api version) noexcept {
  ev.begin = *p++;
  ev.fix = time_fix::insert;  // no `time`: inserted right after the '{'
  ev.at = ev.begin + 1;
  unsigned seen = 0;
  for (;;) {
    // A member is at least a key, ':', a value and the ',' or '}' after it.
    if (end - p < 4) return false;
    const char* k = buf + p[0];
    if (*k != '"' || buf[p[1]] != ':') return false;  // also an empty object: refused
    const std::string_view key = string_at(k, buf + p[1]);
    const char* v = buf + p[2];
    p += 2;  // on the value
    const attr a = lookup(key);
    if (a != a_extension) {
      if (seen & (1u << a)) return false;  // repeated: refused
      seen |= 1u << a;
    }
    const char c = *v;
    if (a == a_data && c == '{') {
      if (!container()) return false;
    } else {
      // A scalar value: the general walk refuses a container anywhere else.
      // Each case reads only what it needs: id, type and subject are checked
      // on their first two bytes.
      const bool str = c == '"';
      const char* next = buf + p[1];
      auto s = [&] { return string_at(v, next); };
      auto null = [&] { return c == 'n' && token(v, next) == "null"; };
      switch (a) {
        case a_id: case a_type: case a_subject:
          if (!str || v[1] == '"') return false;  // not a string, or empty
          break;
        case a_source:
          if (!str || !valid_uri_reference(s())) return false;  // refuses "" too
          break;
        case a_specversion:
          if (!str || (s() != "1.0" && s() != "0.3")) return false;
          break;
        case a_time:
          if (str && valid_rfc3339(s())) {
            ev.fix = time_fix::none;
          } else if (null()) {
            ev.fix = time_fix::replace_null;
            ev.at = static_cast<std::uint32_t>(v - buf);
          } else {
            return false;
          }
          break;
        case a_datacontenttype:
          if (str ? s() != "application/json" : !null()) return false;
          break;
        case a_dataschema:
          if (str ? s().empty() : !null()) return false;
          break;
        case a_data:
          if (!null()) return false;
          break;
        case a_data_base64:
          return false;
        default: {  // an extension (v1 only): alphanumeric name, a simple value
          if (version != api::v1 || key.empty()) return false;
          for (char kc : key) {
            if (!is_alnum(kc)) return false;
          }
          if (str) break;
          const std::string_view t = token(v, next);
          if (!literal(t) && !((c == '-' || is_digit(c)) && int32_token(t))) return false;
          break;
        }
      }
      ++p;  // end - p >= 1 still: see the top of the loop
    }
    // After a value: ',' and the next member, or '}' and the event's end.
    if (p == end) return false;  // a `data` object may have been the last token
    const char after = buf[*p++];
    if (after == '}') break;
    if (after != ',') return false;
  }
  return (seen & required_mask) == required_mask;
}

// Any JSON object or array, as strictly as the general walk's walk(); p
// stands on its '{' or '[' and is left past its matching close. Without a
// backslash in the body, any string stage 1 let through is valid.
bool walker::container() noexcept {
  std::uint64_t objects = 0;  // bit i: level i is an object
  unsigned depth = 0;
  for (;;) {
    // p is on a value.
    char c = buf[*p];
    if (c == '{' || c == '[') {
      if (depth == fast_depth) return false;
      const bool obj = c == '{';
      objects = objects << 1 | (obj ? 1u : 0u);
      ++depth;
      if (++p == end) return false;
      c = buf[*p];
      if (c == (obj ? '}' : ']')) {
        ++p;
        goto closed;
      }
      if (obj) goto key;
      continue;
    }
    if (end - p < 2) return false;  // a scalar is followed by something
    if (c != '"') {
      const std::string_view t = token(buf + p[0], buf + p[1]);
      if (!(c == 't' || c == 'f' || c == 'n' ? literal(t) : valid_number(t))) return false;
    }
    ++p;
    goto after_value;
  closed:
    if (--depth == 0) {
      return true;
    }
    objects >>= 1;
  after_value:
    if (p == end) return false;
    c = buf[*p++];
    if (c == ',') {
      if (objects & 1) goto key;
      if (p == end) return false;
      continue;
    }
    if (c != ((objects & 1) ? '}' : ']')) return false;
    goto closed;
  key:
    // p is on a member's key: a string, then ':', then the value.
    if (end - p < 3 || buf[p[0]] != '"' || buf[p[1]] != ':') return false;
    p += 2;
  }
}

}  // namespace

bool fast_path::run(std::string_view body, media_type type, api version, std::size_t max_events,
                    std::vector<event_ref>& events) {
  if (body.empty() || type == media_type::unsupported || max_events == 0 ||
      body.size() > simdjson::SIMDJSON_MAXSIZE_BYTES) {
    return false;
  }
  if (body.size() > capacity_) {
    // Grows like On-Demand's parser does: after the first body of a given
    // size, nothing is allocated.
    const auto e = stage1_ ? stage1_->set_capacity(body.size())
                           : simdjson::get_active_implementation()->create_dom_parser_implementation(
                                 body.size(), simdjson::DEFAULT_MAX_DEPTH, stage1_);
    if (e != simdjson::SUCCESS) return false;
    capacity_ = body.size();
  }
  // The same stage 1 as On-Demand's: bad UTF-8, unescaped control characters
  // and unclosed strings are its errors, and the general walk reports them.
  if (stage1_->stage1(reinterpret_cast<const std::uint8_t*>(body.data()), body.size(),
                      simdjson::stage1_mode::regular) != simdjson::SUCCESS) {
    return false;
  }
  const std::uint32_t* idx = stage1_->structural_indexes.get();
  walker w{body.data(), idx, idx + stage1_->n_structural_indexes};
  if (w.p == w.end) return false;
  const char root = body[*w.p];
  if (root == '{') {
    if (type == media_type::batch) return false;
    event_ref& ev = events.emplace_back();
    if (!w.event(ev, version) || w.p != w.end) return false;  // only white space may follow
    ev.end = w.p[-1] + 1;
    return true;
  }
  if (root != '[' || type == media_type::single) return false;
  ++w.p;
  for (;;) {
    // An empty array, or an element that is no object: the general walk.
    if (w.p == w.end || body[*w.p] != '{' || events.size() == max_events) return false;
    event_ref& ev = events.emplace_back();
    if (!w.event(ev, version)) return false;
    ev.end = w.p[-1] + 1;  // one past the event's '}'
    if (w.p == w.end) return false;
    const char c = body[*w.p++];
    if (c == ']') break;
    if (c != ',') return false;
  }
  return w.p == w.end;  // only white space may follow the array
}

}  // namespace tg::cloudevents::detail
