// SPDX-License-Identifier: Apache-2.0
// Writing one element's event from the values the walk recorded: attributes
// as strings, `time` converted when it is a unix time, `data` with members
// that point at nothing left out. Bytes of the body are copied as they are:
// a string keeps its escapes (valid string content already), a number its text.
#include <algorithm>
#include <cstring>

// The one-call SHA-256 interface is deprecated in OpenSSL 3.0, not removed.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "engine.hpp"
#include "json_out.hpp"
#include "unix_time.hpp"

namespace tg::mapping {

using detail::kind;
using detail::value_ref;

namespace detail {

void writer::escaped(std::string_view v) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != '"' && c != '\\') {
      put(ch);
      continue;
    }
    put('\\');
    switch (c) {
      case '"': put('"'); break;
      case '\\': put('\\'); break;
      case '\n': put('n'); break;
      case '\r': put('r'); break;
      case '\t': put('t'); break;
      default:  // not in JSON text outside strings; kept exact all the same
        lit("u00");
        put(hex[c >> 4]);
        put(hex[c & 0xf]);
    }
  }
}

}  // namespace detail

// SHA-256 over the route path, a 0 byte and the element's bytes, cut to 128
// bits: equal for a retried payload, on any machine. Once per element.
// OpenSSL's SHA256_* calls, deprecated in 3.0 but kept, rather than EVP: in
// OpenSSL 3.0 every EVP_DigestInit allocates a fresh context, and the request
// path allocates nothing in the steady state (tests/mapping/alloc_test.cpp).
std::string_view mapper::impl::hash() {
  if (!hashed) {
    const value_ref& el = slots[r->element_slot];
    unsigned char digest[SHA256_DIGEST_LENGTH];
    static constexpr unsigned char zero = 0;
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, r->path.data(), r->path.size());
    SHA256_Update(&ctx, &zero, 1);
    SHA256_Update(&ctx, el.p, el.n);
    SHA256_Final(digest, &ctx);
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < detail::hash_hex_len / 2; ++i) {
      hash_hex[2 * i] = hex[digest[i] >> 4];
      hash_hex[2 * i + 1] = hex[digest[i] & 0xf];
    }
    hashed = true;
  }
  return {hash_hex, detail::hash_hex_len};
}

// Writes a template as JSON string content. Returns -1, or the slot of the
// first placeholder that points at nothing (or at null).
int mapper::impl::render_text(const detail::text_template& t) {
  for (const detail::piece& p : t.pieces) {
    switch (p.k) {
      case detail::piece::kind::text: w.put_short(p.text); break;
      case detail::piece::kind::hash: w.put(hash()); break;
      case detail::piece::kind::slot: {
        const value_ref& v = slots[p.slot];
        if (v.p == nullptr || v.k == kind::null) return static_cast<int>(p.slot);
        if (v.k == kind::string) {
          w.put_short(v.p + 1, v.n - 2);  // still escaped as in the body: valid string content as it is
        } else if (v.k == kind::object || v.k == kind::array) {
          w.escaped({v.p, v.n});  // its JSON text, as a string
        } else {
          w.put_short(v.p, v.n);  // a number or boolean: its JSON text
        }
        break;
      }
    }
  }
  return -1;
}

// Writes a data template node as a JSON value. Returns -1, or the slot that
// points at nothing (the caller leaves the member out).
int mapper::impl::render_data(std::uint32_t node) {
  const detail::data_node& d = r->data[node];
  switch (d.k) {
    case detail::data_node::kind::literal: w.put_short(d.literal); return -1;
    case detail::data_node::kind::text: {
      if (d.text.single) {  // keeps the JSON type, null included
        const value_ref& v = slots[d.text.pieces[0].slot];
        if (v.p == nullptr) return static_cast<int>(d.text.pieces[0].slot);
        w.put_short(v.p, v.n);
        return -1;
      }
      w.put('"');
      if (const int miss = render_text(d.text); miss >= 0) return miss;
      w.put('"');
      return -1;
    }
    case detail::data_node::kind::object: {
      w.put('{');
      bool first = true;
      for (std::uint32_t ch : d.children) {
        const std::size_t mark = w.pos();
        if (!first) w.put(',');
        w.put_short(r->data[ch].key);
        if (render_data(ch) >= 0) {
          w.rewind(mark);  // points at nothing: the member is left out
        } else {
          first = false;
        }
      }
      w.put('}');
      return -1;
    }
    case detail::data_node::kind::array: {
      w.put('[');
      bool first = true;
      for (std::uint32_t ch : d.children) {
        if (!first) w.put(',');
        first = false;
        const std::size_t mark = w.pos();
        if (render_data(ch) >= 0) {
          w.rewind(mark);
          w.lit("null");  // an item keeps its place
        }
      }
      w.put(']');
      return -1;
    }
  }
  return -1;
}

// `head` is `,"name":"`; the name for errors lies between its quotes.
template <std::size_t N>
bool mapper::impl::attribute(const detail::text_template& t, const char (&head)[N]) {
  w.lit(head);
  const std::size_t start = w.pos();
  const std::string_view name(head + 2, N - 6);
  if (const int miss = render_text(t); miss >= 0) {
    const value_ref& v = slots[static_cast<std::size_t>(miss)];
    const std::string& ptr = r->slot_pointer[static_cast<std::size_t>(miss)];
    return fail(errc::unmapped, index,
                "route " + r->path + ": element " + std::to_string(index) + ": " + std::string(name) + ": " +
                    (ptr.empty() ? std::string("{}") : ptr) + (v.p == nullptr ? " points at nothing" : " is null"));
  }
  if (w.pos() == start) {
    return fail(errc::unmapped, index,
                "route " + r->path + ": element " + std::to_string(index) + ": " + std::string(name) + " is empty");
  }
  w.put('"');
  return true;
}

// `time`, or nothing when its placeholder points at nothing (receipt time).
bool mapper::impl::time() {
  if (!r->has_time) return true;
  const std::size_t mark = w.pos();
  w.lit(",\"time\":\"");
  const std::size_t start = w.pos();
  if (render_text(r->time) >= 0) {
    w.rewind(mark);
    return true;
  }
  if (r->format == time_format::rfc3339) {
    w.put('"');
    return true;
  }
  // The number was written where the converted time goes: read it back.
  const std::string_view number(out->buf.data() + start, w.pos() - start);
  std::int64_t ms = 0;
  if (!detail::parse_unix_ms(number, r->format, ms)) {
    std::string shown;
    detail::append_escaped(shown, number.substr(0, 64));
    return fail(errc::unmapped, index,
                "route " + r->path + ": element " + std::to_string(index) + ": time: \"" + shown + "\" is not a " +
                    (r->format == time_format::unix_s ? "unix_s time (seconds" : "unix_ms time (milliseconds") +
                    " since 1970-01-01 as a decimal number, years 0000-9999)");
  }
  w.rewind(start);
  // The events of one request mostly fall on one day: the date is formatted
  // once, the time of day each time.
  constexpr std::int64_t ms_per_day = 86400000;
  std::int64_t day = ms / ms_per_day, in_day = ms % ms_per_day;
  if (in_day < 0) in_day += ms_per_day, --day;
  if (day != cached_day) {
    char full[rfc3339_millis_len];
    detail::format_unix_ms(ms, full);
    std::memcpy(cached_date, full, sizeof cached_date);
    cached_day = day;
  }
  const auto v = static_cast<unsigned>(in_day);
  const unsigned secs = v / 1000, milli = v % 1000;
  const unsigned h = secs / 3600, m = secs / 60 % 60, sec = secs % 60;
  char text[rfc3339_millis_len] = {};
  std::memcpy(text, cached_date, sizeof cached_date);
  const auto digit = [](unsigned d) { return static_cast<char>('0' + d); };
  text[11] = digit(h / 10), text[12] = digit(h % 10), text[13] = ':';
  text[14] = digit(m / 10), text[15] = digit(m % 10), text[16] = ':';
  text[17] = digit(sec / 10), text[18] = digit(sec % 10), text[19] = '.';
  text[20] = digit(milli / 100), text[21] = digit(milli / 10 % 10), text[22] = digit(milli % 10), text[23] = 'Z';
  w.put(text, sizeof text);
  w.put('"');
  return true;
}

bool mapper::impl::emit() {
  // One reservation covers the whole event: its fixed text, and each value
  // as often as it is written (escaped inside strings, raw in data).
  std::size_t bound = r->fixed_bytes;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    bound += static_cast<std::size_t>(slots[i].n) * (6 * r->uses_in_text[i] + r->uses_raw[i]);
  }
  w.reserve(bound + 1 + output_padding);  // + the closing ']' and the padding after it
  if (out->events != 0) w.put(',');
  w.lit("{\"specversion\":\"1.0\"");
  if (!attribute(r->id, ",\"id\":\"") || !attribute(r->source, ",\"source\":\"") ||
      !attribute(r->type, ",\"type\":\"") || !attribute(r->subject, ",\"subject\":\"") || !time()) {
    return false;
  }
  if (!r->data.empty()) {
    const std::size_t mark = w.pos();
    w.lit(",\"data\":");
    if (render_data(0) >= 0) w.rewind(mark);
  }
  w.put('}');
  ++out->events;
  if (w.pos() > opts.max_output_bytes) {
    return fail(errc::output_too_large, -1,
                "mapped events too large: more than " + std::to_string(opts.max_output_bytes) + " bytes per request");
  }
  return true;
}

}  // namespace tg::mapping
