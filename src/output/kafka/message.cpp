// SPDX-License-Identifier: Apache-2.0
// OpenMeter's Kafka message from one ring record. simdjson On-Demand walks the
// event's top-level members once; the strings OpenMeter decodes (id, type,
// source, subject) are unescaped and written back as Go's encoder writes
// them, `data` is compacted with its text kept as sent (so numbers keep every
// digit), and the time is parsed here rather than through a time library.
#include "tollgate/output/kafka/message.hpp"

#include <simdjson.h>

#include <charconv>
#include <cstring>

namespace tg::kafka {
namespace {

namespace sj = simdjson::ondemand;

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

// Appends the escape for byte c (escapes.v[c] == 1).
void put_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.append(u, 6);
    }
  }
}

// At p (an E2 byte): whether it starts U+2028 or U+2029; appends the escape if so.
bool put_line_separator(std::string& out, const unsigned char* p, const unsigned char* end) {
  if (end - p < 3 || p[1] != 0x80 || (p[2] != 0xA8 && p[2] != 0xA9)) return false;
  out += p[2] == 0xA8 ? "\\u2028" : "\\u2029";
  return true;
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
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  const auto* run = p;
  while (p < end) {
    const unsigned char e = escapes.v[*p];
    if (e == 0) {
      ++p;
      continue;
    }
    if (e == 2) {
      out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
      if (put_line_separator(out, p, end)) {
        p += 3;
      } else {
        out += static_cast<char>(*p++);
      }
      run = p;
      continue;
    }
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    put_escape(out, *p++);
    run = p;
  }
  out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
}

void append_compact_escaped(std::string& out, std::string_view json) {
  const auto* p = reinterpret_cast<const unsigned char*>(json.data());
  const auto* end = p + json.size();
  bool in_string = false;
  while (p < end) {
    const unsigned char c = *p;
    if (!in_string) {
      // Outside strings valid JSON has only structure, numbers, literals and
      // white space: nothing there needs an escape but the opening quote.
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        ++p;
        continue;
      }
      if (c == '"') {
        out += "\\\"";
        in_string = true;
      } else {
        out += static_cast<char>(c);
      }
      ++p;
      continue;
    }
    // Inside a string: copy the run up to the next byte that needs care.
    const auto* run = p;
    while (p < end && escapes.v[*p] == 0) ++p;
    out.append(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
    if (p == end) break;
    const unsigned char s = *p;
    if (s == '"') {
      out += "\\\"";
      in_string = false;
      ++p;
    } else if (s == '\\') {
      // An escape as written: its backslash escaped, then the escaped byte
      // (a quote or a backslash needs its own escape).
      out += "\\\\";
      ++p;
      if (p < end) {
        if (*p == '"' || *p == '\\') put_escape(out, *p);
        else out += static_cast<char>(*p);
        ++p;
      }
    } else if (s == 0xE2) {
      if (put_line_separator(out, p, end)) {
        p += 3;
      } else {
        out += static_cast<char>(s);
        ++p;
      }
    } else {
      put_escape(out, s);
      ++p;
    }
  }
}

std::string_view describe(encode_error e) noexcept {
  switch (e) {
    case encode_error::not_an_object: return "the event is not a JSON object";
    case encode_error::missing_member: return "the event lacks a string id, type, source, subject, specversion or time";
    case encode_error::bad_time: return "the event's time is not an RFC 3339 date-time";
  }
  return "unknown";
}

struct encoder::impl {
  sj::parser parser;
  std::string padded;  // the event with simdjson's padding after it
  std::string key;
  std::string value;
  std::string specversion;
};

encoder::encoder() : impl_(std::make_unique<impl>()) {}
encoder::~encoder() = default;

result<message, encode_error> encoder::encode(std::string_view event_json, std::string_view ns) {
  impl& m = *impl_;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: the ring gives
  // no such slack, so the event is copied (a few hundred bytes) first.
  const std::size_t need = event_json.size() + simdjson::SIMDJSON_PADDING;
  if (m.padded.size() < need) m.padded.resize(need);
  std::memcpy(m.padded.data(), event_json.data(), event_json.size());
  std::memset(m.padded.data() + event_json.size(), 0, simdjson::SIMDJSON_PADDING);

  sj::document doc;
  if (m.parser.iterate(m.padded.data(), event_json.size(), m.padded.size()).get(doc) != simdjson::SUCCESS) {
    return unexpected(encode_error::not_an_object);
  }
  sj::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return unexpected(encode_error::not_an_object);

  std::string_view id, type, source, subject, spec, time, data;
  unsigned seen = 0;
  for (auto field : obj) {
    std::string_view k;
    if (field.unescaped_key().get(k) != simdjson::SUCCESS) return unexpected(encode_error::not_an_object);
    sj::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return unexpected(encode_error::not_an_object);
    std::string_view* slot = nullptr;
    unsigned bit = 0;
    if (k == "id") slot = &id, bit = 1;
    else if (k == "type") slot = &type, bit = 2;
    else if (k == "source") slot = &source, bit = 4;
    else if (k == "subject") slot = &subject, bit = 8;
    else if (k == "specversion") slot = &spec, bit = 16;
    else if (k == "time") slot = &time, bit = 32;
    if (slot != nullptr) {
      if (v.get_string().get(*slot) != simdjson::SUCCESS) return unexpected(encode_error::missing_member);
      seen |= bit;
      continue;
    }
    if (k != "data") continue;  // skipping an unread value is the iterator's job
    sj::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS) return unexpected(encode_error::not_an_object);
    if (t == sj::json_type::null) {
      data = {};
      if (v.is_null().error() != simdjson::SUCCESS) return unexpected(encode_error::not_an_object);
    } else if (t == sj::json_type::object) {
      sj::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS || o.raw_json().get(data) != simdjson::SUCCESS) {
        return unexpected(encode_error::not_an_object);
      }
    } else if (t == sj::json_type::array) {
      sj::array a;
      if (v.get_array().get(a) != simdjson::SUCCESS || a.raw_json().get(data) != simdjson::SUCCESS) {
        return unexpected(encode_error::not_an_object);
      }
    } else {
      data = v.raw_json_token();
    }
  }
  if (seen != 63) return unexpected(encode_error::missing_member);
  event_time when;
  if (!parse_event_time(time, when)) return unexpected(encode_error::bad_time);

  m.key.clear();
  m.key.append(ns).append(1, '-').append(source).append(1, '-').append(id);
  std::string& out = m.value;
  out.clear();
  out += "{\"id\":\"";
  append_go_escaped(out, id);
  out += "\",\"type\":\"";
  append_go_escaped(out, type);
  out += "\",\"source\":\"";
  append_go_escaped(out, source);
  out += "\",\"subject\":\"";
  append_go_escaped(out, subject);
  out += "\",\"time\":";
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, when.seconds);
  (void)ec;
  out.append(digits, end);
  out += ",\"data\":\"";
  append_compact_escaped(out, data);
  out += "\"}";
  m.specversion.assign(spec);
  return message{m.key, m.value, m.specversion, when.millis()};
}

}  // namespace tg::kafka
