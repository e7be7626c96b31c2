// SPDX-License-Identifier: Apache-2.0
// OpenMeter's Kafka message from one ring record. One scan finds the event's
// top-level members; the strings OpenMeter decodes (id, type, source,
// subject) are unescaped where they hold escapes and written back as Go's
// encoder writes them, `data` is compacted with its text kept as sent (so
// numbers keep every digit), and the time is parsed here rather than through
// a time library.
#include "tollgate/output/kafka/message.hpp"

#include <charconv>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tg::kafka {
namespace {

bool digit(char c) noexcept { return c >= '0' && c <= '9'; }
unsigned num(const char* p, int n) noexcept {
  unsigned v = 0;
  for (int i = 0; i < n; ++i) v = v * 10 + static_cast<unsigned>(p[i] - '0');
  return v;
}
bool all_digits(const char* p, int n) noexcept {
  for (int i = 0; i < n; ++i) {
    if (!digit(p[i])) return false;
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

// What a byte needs inside a Go-encoded JSON string: 0 nothing, 1 a
// backslash escape or \u00XX, 2 maybe U+2028 / U+2029 (E2 80 A8 / A9).
struct escape_table {
  unsigned char v[256] = {};
  constexpr escape_table() {
    for (int c = 0; c < 0x20; ++c) v[c] = 1;
    v[static_cast<unsigned char>('"')] = 1;
    v[static_cast<unsigned char>('\\')] = 1;
    v[static_cast<unsigned char>('<')] = 1;
    v[static_cast<unsigned char>('>')] = 1;
    v[static_cast<unsigned char>('&')] = 1;
    v[0xE2] = 2;
  }
};
constexpr escape_table escapes;
constexpr char hex[] = "0123456789abcdef";

// Writes the escape for byte c (escapes.v[c] == 1) at w; returns the end.
char* put_escape(char* w, unsigned char c) noexcept {
  switch (c) {
    case '"': *w++ = '\\'; *w++ = '"'; return w;
    case '\\': *w++ = '\\'; *w++ = '\\'; return w;
    case '\n': *w++ = '\\'; *w++ = 'n'; return w;
    case '\r': *w++ = '\\'; *w++ = 'r'; return w;
    case '\t': *w++ = '\\'; *w++ = 't'; return w;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      std::memcpy(w, u, 6);
      return w + 6;
    }
  }
}

// At p (an E2 byte): whether it starts U+2028 or U+2029.
bool line_separator(const unsigned char* p, const unsigned char* end) noexcept {
  return end - p >= 3 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9);
}

// Every writer below is given room for the worst case, six bytes out per
// byte in (\u00XX), and returns where it stopped: a std::string append per
// piece costs more than the scan itself (bench/output/kafka/message_bench).
char* write_go_escaped(char* w, std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    const unsigned char e = escapes.v[c];
    if (e == 0) {
      *w++ = static_cast<char>(c);
      ++p;
    } else if (e == 2) {
      if (line_separator(p, end)) {
        std::memcpy(w, p[2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
        w += 6;
        p += 3;
      } else {
        *w++ = static_cast<char>(c);
        ++p;
      }
    } else {
      w = put_escape(w, c);
      ++p;
    }
  }
  return w;
}

char* write_compact_escaped(char* w, std::string_view json) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(json.data());
  const auto* end = p + json.size();
  bool in_string = false;
  while (p < end) {
    const unsigned char c = *p++;
    if (!in_string) {
      // Outside strings valid JSON has only structure, numbers, literals and
      // white space: nothing there needs an escape but the opening quote.
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
      if (c == '"') {
        *w++ = '\\';
        in_string = true;
      }
      *w++ = static_cast<char>(c);
      continue;
    }
    switch (escapes.v[c]) {
      case 0: *w++ = static_cast<char>(c); break;
      case 2:
        if (line_separator(p - 1, end)) {
          std::memcpy(w, p[1] == 0xA8 ? "\\u2028" : "\\u2029", 6);
          w += 6;
          p += 2;
        } else {
          *w++ = static_cast<char>(c);
        }
        break;
      default:
        if (c == '"') {
          *w++ = '\\';
          *w++ = '"';
          in_string = false;
        } else if (c == '\\') {
          // An escape as written: its backslash escaped, then the escaped
          // byte (a quote or a backslash needs its own escape).
          *w++ = '\\';
          *w++ = '\\';
          if (p < end) {
            if (*p == '"' || *p == '\\') *w++ = '\\';
            *w++ = static_cast<char>(*p++);
          }
        } else {
          w = put_escape(w, c);  // < > &, and control bytes (which valid JSON strings do not hold)
        }
    }
  }
  return w;
}

}  // namespace

bool parse_event_time(std::string_view s, event_time& out) noexcept {
  const char* p = s.data();
  const std::size_t n = s.size();
  if (n < 20 || !all_digits(p, 4) || p[4] != '-' || !all_digits(p + 5, 2) || p[7] != '-' || !all_digits(p + 8, 2) ||
      (p[10] != 'T' && p[10] != 't') || !all_digits(p + 11, 2) || p[13] != ':' || !all_digits(p + 14, 2) ||
      p[16] != ':' || !all_digits(p + 17, 2)) {
    return false;
  }
  const unsigned month = num(p + 5, 2), day = num(p + 8, 2);
  const unsigned hour = num(p + 11, 2), minute = num(p + 14, 2), second = num(p + 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  std::size_t i = 19;
  std::uint32_t nanos = 0;
  if (p[i] == '.') {
    const std::size_t first = ++i;
    std::uint32_t scale = 100000000;
    while (i < n && digit(p[i])) {
      // Past nine digits the fraction is finer than a nanosecond: dropped, as Go does.
      nanos += static_cast<std::uint32_t>(p[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == first) return false;
  }
  if (i >= n) return false;
  std::int64_t offset = 0;
  if (p[i] == 'Z' || p[i] == 'z') {
    ++i;
  } else if (p[i] == '+' || p[i] == '-') {
    if (n - i < 6 || !all_digits(p + i + 1, 2) || p[i + 3] != ':' || !all_digits(p + i + 4, 2)) return false;
    const unsigned oh = num(p + i + 1, 2), om = num(p + i + 4, 2);
    if (oh > 23 || om > 59) return false;
    offset = (p[i] == '+' ? 1 : -1) * static_cast<std::int64_t>(oh * 3600 + om * 60);
    i += 6;
  } else {
    return false;
  }
  if (i != n) return false;
  const std::int64_t days = days_from_civil(num(p, 4), month, day);
  out.seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset;
  out.nanos = nanos;
  return true;
}

std::size_t format_rfc3339_nano(const timespec& t, char (&out)[rfc3339_nano_max]) noexcept {
  std::int64_t secs = t.tv_sec;
  std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  std::int64_t rem = secs - days * 86400;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  auto put2 = [&](std::size_t at, unsigned v) {
    out[at] = static_cast<char>('0' + v / 10);
    out[at + 1] = static_cast<char>('0' + v % 10);
  };
  const auto year = static_cast<unsigned>(y < 0 ? 0 : y > 9999 ? 9999 : y);
  put2(0, year / 100);
  put2(2, year % 100);
  out[4] = '-';
  put2(5, m);
  out[7] = '-';
  put2(8, d);
  out[10] = 'T';
  put2(11, static_cast<unsigned>(rem / 3600));
  out[13] = ':';
  put2(14, static_cast<unsigned>(rem / 60 % 60));
  out[16] = ':';
  put2(17, static_cast<unsigned>(rem % 60));
  std::size_t len = 19;
  auto ns = static_cast<std::uint32_t>(t.tv_nsec);
  if (ns != 0) {
    char frac[9];
    for (int k = 8; k >= 0; --k) {
      frac[k] = static_cast<char>('0' + ns % 10);
      ns /= 10;
    }
    int keep = 9;
    while (keep > 0 && frac[keep - 1] == '0') --keep;
    out[len++] = '.';
    std::memcpy(out + len, frac, static_cast<std::size_t>(keep));
    len += static_cast<std::size_t>(keep);
  }
  out[len++] = 'Z';
  return len;
}

void append_go_escaped(std::string& out, std::string_view text) {
  const std::size_t base = out.size();
  out.resize(base + text.size() * 6);
  out.resize(static_cast<std::size_t>(write_go_escaped(out.data() + base, text) - out.data()));
}

void append_compact_escaped(std::string& out, std::string_view json) {
  const std::size_t base = out.size();
  out.resize(base + json.size() * 6);
  out.resize(static_cast<std::size_t>(write_compact_escaped(out.data() + base, json) - out.data()));
}

std::string_view describe(encode_error e) noexcept {
  switch (e) {
    case encode_error::not_an_object: return "the event is not a JSON object";
    case encode_error::missing_member: return "the event lacks a string id, type, source, subject, specversion or time";
    case encode_error::bad_time: return "the event's time is not an RFC 3339 date-time";
  }
  return "unknown";
}

// ---- a scanner over one validated event ----
// The ring holds only events the validator accepted (valid JSON, valid
// UTF-8, one object), so the encoder needs no parser: a scan of the top-level
// members finds each value's bytes, and only strings that hold an escape are
// decoded. This is about a quarter of what a simdjson On-Demand walk costs
// per event here (bench/output/kafka/message_bench.cpp).
namespace {

bool ws(char c) noexcept { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

const char* skip_ws(const char* p, const char* end) noexcept {
  while (p < end && ws(*p)) ++p;
  return p;
}

// p at an opening quote; returns the position after the closing quote (null
// if there is none) and whether the string holds an escape.
const char* scan_string(const char* p, const char* end, bool& escaped) noexcept {
  escaped = false;
  ++p;
  while (p < end) {
#if defined(__SSE2__)
    // Sixteen bytes at a time while sixteen are left (never past `end`):
    // the first quote or backslash among them. Strings here are short
    // (ids, names, keys), where a memchr call costs more than the bytes.
    if (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const unsigned q = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
      const unsigned b = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
      if ((q | b) == 0) {
        p += 16;
        continue;
      }
      const int at = __builtin_ctz(q | b);
      if ((q >> at) & 1u) return p + at + 1;
      escaped = true;
      p += at + 2;  // past the escape (its second byte may be a quote)
      continue;
    }
#endif
    if (*p == '"') return p + 1;
    if (*p == '\\') {
      escaped = true;
      p += 2;
      continue;
    }
    ++p;
  }
  return nullptr;
}

// p at '{' or '['; returns the position after its matching close.
const char* scan_composite(const char* p, const char* end) noexcept {
  int depth = 0;
  bool esc;
  while (p < end) {
    const char c = *p;
    if (c == '"') {
      p = scan_string(p, end, esc);
      if (p == nullptr) return nullptr;
      continue;
    }
    if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return p + 1;
    }
    ++p;
  }
  return nullptr;
}

unsigned hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<unsigned>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<unsigned>(c - 'A' + 10);
  return 0;
}

void put_utf8(std::string& out, unsigned cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The decoded text of a JSON string body (without quotes) that holds escapes.
// A lone surrogate becomes U+FFFD, as Go's decoder makes it.
void unescape(std::string_view body, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    const char e = body[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        if (i + 4 >= body.size()) return;
        unsigned cp = 0;
        for (int k = 1; k <= 4; ++k) cp = cp * 16 + hex_value(body[i + static_cast<std::size_t>(k)]);
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < body.size() && body[i + 1] == '\\' && body[i + 2] == 'u') {
          unsigned lo = 0;
          for (int k = 3; k <= 6; ++k) lo = lo * 16 + hex_value(body[i + static_cast<std::size_t>(k)]);
          if (lo >= 0xDC00 && lo < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          } else {
            cp = 0xFFFD;
          }
        } else if (cp >= 0xD800 && cp < 0xE000) {
          cp = 0xFFFD;
        }
        put_utf8(out, cp);
        break;
      }
      default: out += e;  // \" \\ \/
    }
  }
}

}  // namespace

struct encoder::impl {
  std::string key;
  std::string value;
  std::string specversion;
  std::string decoded[6];  // decoded strings, for the members that hold escapes
};

encoder::encoder() : impl_(std::make_unique<impl>()) {}
encoder::~encoder() = default;

result<message, encode_error> encoder::encode(std::string_view event_json, std::string_view ns) {
  impl& m = *impl_;
  const char* p = event_json.data();
  const char* const end = p + event_json.size();
  p = skip_ws(p, end);
  if (p == end || *p != '{') return unexpected(encode_error::not_an_object);
  ++p;
  // id, type, source, subject, specversion, time: decoded string values.
  std::string_view str[6];
  std::string_view data;
  unsigned seen = 0;
  for (;;) {
    p = skip_ws(p, end);
    if (p < end && *p == '}') break;
    if (p == end || *p != '"') return unexpected(encode_error::not_an_object);
    bool esc;
    const char* kq = scan_string(p, end, esc);
    if (kq == nullptr) return unexpected(encode_error::not_an_object);
    std::string_view k(p + 1, static_cast<std::size_t>(kq - p - 2));
    std::string key_buf;
    if (esc) {
      unescape(k, key_buf);
      k = key_buf;
    }
    p = skip_ws(kq, end);
    if (p == end || *p != ':') return unexpected(encode_error::not_an_object);
    p = skip_ws(p + 1, end);
    if (p == end) return unexpected(encode_error::not_an_object);
    const char* v = p;
    bool vesc = false;
    if (*p == '"') {
      p = scan_string(p, end, vesc);
    } else if (*p == '{' || *p == '[') {
      p = scan_composite(p, end);
    } else {
      while (p < end && *p != ',' && *p != '}' && !ws(*p)) ++p;
    }
    if (p == nullptr) return unexpected(encode_error::not_an_object);
    const std::string_view raw(v, static_cast<std::size_t>(p - v));
    int slot = -1;
    switch (k.size()) {
      case 2: slot = k == "id" ? 0 : -1; break;
      case 4: slot = k == "type" ? 1 : k == "time" ? 5 : k == "data" ? 6 : -1; break;
      case 6: slot = k == "source" ? 2 : -1; break;
      case 7: slot = k == "subject" ? 3 : -1; break;
      case 11: slot = k == "specversion" ? 4 : -1; break;
      default: break;
    }
    if (slot == 6) {
      data = raw == "null" ? std::string_view{} : raw;
    } else if (slot >= 0) {
      if (raw.size() < 2 || raw.front() != '"') return unexpected(encode_error::missing_member);
      const std::string_view body = raw.substr(1, raw.size() - 2);
      if (vesc) {
        unescape(body, m.decoded[slot]);
        str[slot] = m.decoded[slot];
      } else {
        str[slot] = body;
      }
      seen |= 1u << slot;
    }
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      ++p;
      continue;
    }
    if (p < end && *p == '}') break;
    return unexpected(encode_error::not_an_object);
  }
  if (seen != 63) return unexpected(encode_error::missing_member);
  event_time when;
  if (!parse_event_time(str[5], when)) return unexpected(encode_error::bad_time);

  m.key.clear();
  m.key.append(ns).append(1, '-').append(str[2]).append(1, '-').append(str[0]);
  // Written through a pointer into room for the worst case. The buffer only
  // grows (its size is the room, not the value's length), so it is zeroed
  // once per growth rather than once per event.
  const std::size_t room = 96 + 6 * (str[0].size() + str[1].size() + str[2].size() + str[3].size() + data.size());
  if (m.value.size() < room) m.value.resize(room);
  char* const begin = m.value.data();
  char* w = begin;
  auto lit = [&w](std::string_view t) {
    std::memcpy(w, t.data(), t.size());
    w += t.size();
  };
  lit("{\"id\":\"");
  w = write_go_escaped(w, str[0]);
  lit("\",\"type\":\"");
  w = write_go_escaped(w, str[1]);
  lit("\",\"source\":\"");
  w = write_go_escaped(w, str[2]);
  lit("\",\"subject\":\"");
  w = write_go_escaped(w, str[3]);
  lit("\",\"time\":");
  w = std::to_chars(w, w + 24, when.seconds).ptr;
  lit(",\"data\":\"");
  w = write_compact_escaped(w, data);
  lit("\"}");
  const std::string_view value(begin, static_cast<std::size_t>(w - begin));
  m.specversion.assign(str[4]);
  return message{m.key, value, m.specversion, when.millis()};
}

}  // namespace tg::kafka
