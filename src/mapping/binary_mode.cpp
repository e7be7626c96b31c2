// SPDX-License-Identifier: Apache-2.0
// CloudEvents HTTP binary mode to one structured event. Header values are
// decoded as the HTTP binding (1.0.2, §3.1.3.2) says: an RFC 7230 quoted
// string is unquoted first, then one round of percent-decoding, and the bytes
// must be valid UTF-8 (overlong forms such as %C0%A0 are refused).
#include "tollgate/mapping/binary_mode.hpp"

#include <array>
#include <string>

#include "tollgate/cloudevents/validator.hpp"
#include "json_out.hpp"

namespace tg::mapping {
namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view lower_b) noexcept {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

bool same_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool has_ce_prefix(std::string_view name) noexcept { return name.size() >= 3 && iequals(name.substr(0, 3), "ce-"); }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n = 0;
    unsigned lo = 0x80, hi = 0xbf;  // the range of the second byte
    if (c >= 0xc2 && c <= 0xdf) n = 1;
    else if (c == 0xe0) n = 2, lo = 0xa0;
    else if (c == 0xed) n = 2, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef) n = 2;
    else if (c == 0xf0) n = 3, lo = 0x90;
    else if (c == 0xf4) n = 3, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3) n = 3;
    else return false;
    if (end - p <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int k = 2; k <= n; ++k) {
      if (p[k] < 0x80 || p[k] > 0xbf) return false;
    }
    p += n + 1;
  }
  return true;
}

// Unquotes and percent-decodes a header value into `out` (raw bytes). Returns
// what is wrong, or nullptr.
const char* decode(std::string_view v, std::string& out) {
  std::string unquoted;
  if (!v.empty() && v.front() == '"') {
    if (v.size() < 2 || v.back() != '"') return "has an unterminated quoted string";
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
      char c = v[i];
      if (c == '\\') {
        if (i + 2 >= v.size()) return "has a quoted string ending in a backslash";
        c = v[++i];
      } else if (c == '"') {
        return "has a quote inside its quoted string";
      }
      unquoted += c;
    }
    v = unquoted;
  }
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out += v[i];
      continue;
    }
    const int h = i + 2 < v.size() ? hex_value(v[i + 1]) : -1;
    const int l = h >= 0 ? hex_value(v[i + 2]) : -1;
    if (l < 0) return "has a '%' not followed by two hex digits";
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  if (!valid_utf8(out)) return "is not valid UTF-8 once percent-decoded";
  return nullptr;
}

}  // namespace

bool is_json_media_type(std::string_view ct) noexcept {
  std::string_view t = ct.substr(0, ct.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  if (iequals(t, "application/json")) return true;
  const std::size_t slash = t.find('/');
  return slash != std::string_view::npos && slash > 0 && t.size() > slash + 6 &&
         iequals(t.substr(t.size() - 5), "+json");
}

namespace {

bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Where the JSON value at the start of `s` ends, by counting brackets outside
// strings: 0 when it never closes. The validator checks the bytes later; this
// only makes sure the body is one value, so it cannot add attributes of its own
// (`{},"time":"..."` would otherwise become a second member of the event).
std::size_t value_end(std::string_view s) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && depth != 0 && --depth == 0) {
      return i + 1;
    }
  }
  return 0;
}

bool fail(error& err, output& out, std::string detail) {
  err.code = errc::binary_mode;
  err.index = -1;
  err.detail = std::move(detail);
  out.buf.assign(output_padding, ' ');
  out.json_size = 0;
  out.events = 0;
  return false;
}

// The context attributes that have a header of their own, in the order they
// are written and (the first five) reported when missing.
constexpr std::array<std::string_view, 7> known = {"id", "source", "specversion", "type", "subject", "time",
                                                    "dataschema"};
constexpr std::size_t required_count = 5;

}  // namespace

bool is_binary_mode(std::span<const header> headers, std::string_view content_type) noexcept {
  bool ce = false;
  for (const header& h : headers) ce = ce || iequals(h.first, "ce-specversion");
  if (!ce) return false;
  const auto t = cloudevents::classify(content_type);
  return t != cloudevents::media_type::single && t != cloudevents::media_type::batch;
}

bool from_binary(std::span<const header> headers, std::string_view content_type, std::string_view body,
                 output& out, error& err) {
  err = error{};
  std::array<const header*, known.size()> attr{};
  std::string decoded;
  std::string& o = out.buf;
  o.clear();
  std::string ext;  // the extension members, written after the known attributes
  std::vector<std::string_view> ext_names;
  for (const header& h : headers) {
    if (!has_ce_prefix(h.first)) continue;
    const std::string_view name = h.first.substr(3);
    std::size_t k = 0;
    while (k < known.size() && !iequals(name, known[k])) ++k;
    if (k < known.size()) {
      if (attr[k] != nullptr) return fail(err, out, "ce-" + std::string(known[k]) + " is repeated");
      attr[k] = &h;
      continue;
    }
    const std::string shown(h.first.substr(0, 64));
    if (iequals(name, "datacontenttype")) {
      return fail(err, out, "ce-datacontenttype must not be sent in binary mode: Content-Type gives the data's type");
    }
    if (iequals(name, "data") || iequals(name, "data_base64")) {
      return fail(err, out, "header " + shown + " is not an attribute: in binary mode the body is the data");
    }
    bool good = !name.empty();
    for (char c : name) good = good && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (!good) {
      return fail(err, out, "header " + shown + ": a CloudEvents attribute name is letters a-z and digits 0-9 only");
    }
    for (std::string_view seen : ext_names) {
      if (same_name(seen, name)) return fail(err, out, "header " + shown + " is repeated");
    }
    ext_names.push_back(name);
    if (const char* why = decode(h.second, decoded)) return fail(err, out, "header " + shown + " " + why);
    ext += ",\"";
    for (char c : name) ext += lower(c);
    ext += "\":\"";
    detail::append_escaped(ext, decoded);
    ext += '"';
  }
  for (std::size_t k = 0; k < required_count; ++k) {
    if (attr[k] == nullptr) return fail(err, out, "ce-" + std::string(known[k]) + " is missing");
  }
  o += '{';
  for (std::size_t k = 0; k < known.size(); ++k) {
    if (attr[k] == nullptr) continue;
    if (const char* why = decode(attr[k]->second, decoded)) {
      return fail(err, out, "ce-" + std::string(known[k]) + " " + why);
    }
    if (decoded.empty()) return fail(err, out, "ce-" + std::string(known[k]) + " must not be empty");
    if (o.size() > 1) o += ',';
    o += '"';
    o += known[k];
    o += "\":\"";
    detail::append_escaped(o, decoded);
    o += '"';
  }
  o += ext;

  std::size_t first = 0, last = body.size();
  while (first < last && is_ws(body[first])) ++first;
  while (last > first && is_ws(body[last - 1])) --last;
  if (first < last) {
    if (content_type.empty()) {
      return fail(err, out, "Content-Type is missing: in binary mode the body is the event's data, "
                            "so send application/json (or a +json type)");
    }
    if (!is_json_media_type(content_type)) {
      return fail(err, out, "unsupported Content-Type \"" + std::string(content_type.substr(0, 128)) +
                                "\" in binary mode: the body becomes the event's data, which must be JSON "
                                "(application/json or a +json type)");
    }
    const std::string_view value = body.substr(first, last - first);
    if (value != "null") {
      if (value[0] != '{') return fail(err, out, "in binary mode the body must be a JSON object (it becomes the event's data)");
      const std::size_t end = value_end(value);
      if (end == 0) return fail(err, out, "malformed JSON: the body ends inside its object");
      if (end != value.size()) {
        std::size_t next = first + end;
        while (is_ws(body[next])) ++next;
        return fail(err, out, "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(next));
      }
    }
    o += ",\"data\":";
    o += value;
  }
  o += '}';
  out.json_size = o.size();
  out.events = 1;
  o.append(output_padding, ' ');
  return true;
}

}  // namespace tg::mapping
