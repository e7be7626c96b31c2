// SPDX-License-Identifier: Apache-2.0
// The engine: one pass of simdjson On-Demand over the body. The route's
// pointers form a trie, so each element is walked once, recording where the
// values its templates need lie in the body; everything else is checked as
// JSON and skipped. Each element's event is written as soon as the element has
// been walked. Values are copied byte for byte (numbers keep their text,
// strings their escapes), never re-encoded.
#include "tollgate/mapping/mapper.hpp"

#include <openssl/evp.h>
#include <simdjson.h>

#include <cstring>

#include "../cloudevents/event_check.hpp"  // walk(), check_scalar(): the validator's own JSON checks
#include "../cloudevents/json_scan.hpp"
#include "json_out.hpp"
#include "route.hpp"
#include "unix_time.hpp"

namespace tg::mapping {

namespace sj = simdjson::ondemand;
namespace cj = cloudevents::detail;
using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

enum class kind : std::uint8_t { string, number, boolean, null, object, array };

// Where a pointer's value lies in the body: p == nullptr when it points at nothing.
struct value_ref {
  const char* p = nullptr;
  std::uint32_t n = 0;
  kind k = kind::null;
};

// Returned up the walk once `err` holds a mapping error (not a JSON one).
constexpr error_code stop = simdjson::UNEXPECTED_ERROR;

constexpr std::size_t hash_hex_len = 32;  // 128 bits of SHA-256

kind kind_of(char c) noexcept {
  switch (c) {
    case '"': return kind::string;
    case '{': return kind::object;
    case '[': return kind::array;
    case 't': case 'f': return kind::boolean;
    case 'n': return kind::null;
    default: return kind::number;
  }
}

const char* kind_name(kind k) noexcept {
  switch (k) {
    case kind::string: return "a string";
    case kind::number: return "a number";
    case kind::boolean: return "a boolean";
    case kind::null: return "null";
    case kind::object: return "an object";
    case kind::array: return "an array";
  }
  return "a value";
}

}  // namespace

struct mapper::impl {
  options opts;
  sj::parser parser;
  sj::document doc;
  EVP_MD* sha256 = nullptr;
  EVP_MD_CTX* md = nullptr;

  // Per request.
  const route* r = nullptr;
  std::string_view body;
  bool escapes = false;
  output* out = nullptr;
  error* err = nullptr;
  enum class each_state : std::uint8_t { not_found, not_array, found } each = each_state::not_found;
  kind each_kind = kind::null;

  // Per element.
  std::vector<value_ref> slots;
  std::vector<std::uint8_t> seen;  // per trie node: the first member with a name wins
  std::int32_t index = 0;
  bool hashed = false;
  char hash_hex[hash_hex_len];
  std::string scratch;

  bool run();
  error_code descend(sj::value& v, std::size_t level, unsigned depth);
  error_code element(sj::value& v, std::int32_t idx, unsigned depth);
  error_code visit(sj::value& v, std::uint32_t node, unsigned depth);
  const char* container_end() noexcept;
  void begin_element(std::int32_t idx);
  bool emit();
  bool attribute(const detail::text_template& t, std::string_view name);
  bool time();
  int render_text(const detail::text_template& t, std::string& o);
  int render_data(std::uint32_t node, std::string& o);
  void append_hash(std::string& o);
  bool fail(errc code, std::int32_t idx, std::string detail);
  bool fail_json(error_code code);
};

mapper::mapper(const options& opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = opts;
  impl_->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  impl_->md = EVP_MD_CTX_new();
}

mapper::~mapper() {
  EVP_MD_CTX_free(impl_->md);
  EVP_MD_free(impl_->sha256);
}

bool mapper::map(const route& r, std::string_view body, output& out, error& err) {
  impl& m = *impl_;
  err.code = errc::none;
  err.index = -1;
  err.detail.clear();
  m.r = &r;
  m.body = body;
  m.out = &out;
  m.err = &err;
  m.escapes = std::memchr(body.data(), '\\', body.size()) != nullptr;
  m.each = impl::each_state::not_found;
  m.slots.resize(r.slot_pointer.size());
  m.seen.resize(r.nodes.size());
  out.buf.clear();
  out.buf += '[';
  out.events = 0;
  out.json_size = 0;
  if (!m.run()) {
    out.buf.clear();
    out.buf.append(output_padding, ' ');
    out.events = 0;
    return false;
  }
  out.buf += ']';
  out.json_size = out.buf.size();
  out.buf.append(output_padding, ' ');
  return true;
}

bool mapper::impl::fail(errc code, std::int32_t idx, std::string detail) {
  err->code = code;
  err->index = idx;
  err->detail = std::move(detail);
  return false;
}

bool mapper::impl::fail_json(error_code code) {
  if (err->code != errc::none) return false;  // a mapping error stopped the walk
  if (code == simdjson::DEPTH_ERROR) return fail(errc::malformed_json, -1, "malformed JSON: nested too deeply");
  std::string d = "malformed JSON: ";
  d += simdjson::error_message(code);
  const char* loc = nullptr;
  if (doc.current_location().get(loc) == SUCCESS && loc >= body.data() && loc <= body.data() + body.size()) {
    d += " (near byte " + std::to_string(loc - body.data()) + ")";
  }
  return fail(errc::malformed_json, -1, std::move(d));
}

bool mapper::impl::run() {
  std::size_t first = 0;
  while (first < body.size() && cj::is_ws(body[first])) ++first;
  if (first == body.size()) return fail(errc::empty_body, -1, "request body is empty");
  if (auto e = parser.iterate(body.data(), body.size(), body.size() + simdjson::SIMDJSON_PADDING).get(doc)) {
    return fail_json(e);
  }
  std::string_view tok;
  if (auto e = doc.raw_json_token().get(tok)) return fail_json(e);
  const bool container = tok[0] == '{' || tok[0] == '[';
  if (container) {
    sj::value root;
    if (auto e = doc.get_value().get(root)) return fail_json(e);
    if (auto e = r->has_each ? descend(root, 0, 0) : element(root, 0, 0)) return fail_json(e);
    const char* extra = nullptr;
    if (doc.current_location().get(extra) == SUCCESS) {
      return fail(errc::malformed_json, -1,
                  "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(extra - body.data()));
    }
  } else {
    // A scalar document: its token must be the whole (trimmed) body.
    const std::string_view scalar = cj::trim_token(tok);
    const std::string_view rest = cj::trim_token(body.substr(static_cast<std::size_t>(scalar.data() - body.data())));
    if (rest.size() != scalar.size()) {
      return fail(errc::malformed_json, -1,
                  "malformed JSON: unexpected data after the JSON value at byte " +
                      std::to_string(scalar.data() + scalar.size() - body.data()));
    }
    if (auto e = cj::check_scalar(scalar, escapes)) return fail_json(e);
    if (r->has_each) {
      if (r->each_tokens.empty()) {
        each = each_state::not_array;
        each_kind = kind_of(scalar[0]);
      }
    } else {
      begin_element(0);
      if (r->needs_element) slots[r->element_slot] = {scalar.data(), static_cast<std::uint32_t>(scalar.size()), kind_of(scalar[0])};
      if (!emit()) return false;
    }
  }
  if (r->has_each && each != each_state::found) {
    return fail(errc::unmapped, -1,
                "route " + r->path + ": each: " + (r->each_pointer.empty() ? std::string("the body") : r->each_pointer) +
                    (each == each_state::not_found ? " points at nothing"
                                                   : std::string(" is ") + kind_name(each_kind) + ", not an array"));
  }
  return true;
}

// One past the last byte of the container just iterated: the iterator stands
// on the token after it (or at the end of the body).
const char* mapper::impl::container_end() noexcept {
  const char* loc = nullptr;
  if (doc.current_location().get(loc) != SUCCESS) loc = body.data() + body.size();
  const char* e = loc - 1;
  while (cj::is_ws(*e)) --e;
  return e + 1;
}

// Follows `each` from the body's root to its array, checking everything beside the path.
error_code mapper::impl::descend(sj::value& v, std::size_t level, unsigned depth) {
  const std::string_view tok = v.raw_json_token();
  const char c = tok[0];
  if (level == r->each_tokens.size()) {
    if (c != '[') {
      each = each_state::not_array;
      each_kind = kind_of(c);
      return cj::walk(v, depth, escapes);
    }
    each = each_state::found;
    if (depth >= cj::max_depth) return simdjson::DEPTH_ERROR;
    sj::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    std::int32_t idx = 0;
    for (auto item : arr) {
      SIMDJSON_TRY(item.error());
      SIMDJSON_TRY(element(item.value_unsafe(), idx, depth + 1));
      ++idx;
    }
    return SUCCESS;
  }
  const std::string& want = r->each_tokens[level];
  bool matched = false;  // the first member with the name wins
  if (c == '{') {
    if (depth >= cj::max_depth) return simdjson::DEPTH_ERROR;
    sj::object obj;
    SIMDJSON_TRY(v.get_object().get(obj));
    for (auto item : obj) {
      SIMDJSON_TRY(item.error());
      sj::field& f = item.value_unsafe();
      sj::value& fv = f.value();
      std::string_view key = cj::raw_key(f.key().raw(), fv.raw_json_token().data());
      if (escapes && cj::has_backslash(key)) {
        if (!cj::valid_escapes(key)) return simdjson::STRING_ERROR;
        SIMDJSON_TRY(f.unescaped_key().get(key));
      }
      if (!matched && key == want) {
        matched = true;
        SIMDJSON_TRY(descend(fv, level + 1, depth + 1));
      } else {
        SIMDJSON_TRY(cj::walk(fv, depth + 1, escapes));
      }
    }
    return SUCCESS;
  }
  if (c == '[') {
    if (depth >= cj::max_depth) return simdjson::DEPTH_ERROR;
    sj::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    std::size_t i = 0;
    for (auto item : arr) {
      SIMDJSON_TRY(item.error());
      sj::value& iv = item.value_unsafe();
      if (std::to_string(i) == want) {  // rare: `each` through an array
        SIMDJSON_TRY(descend(iv, level + 1, depth + 1));
      } else {
        SIMDJSON_TRY(cj::walk(iv, depth + 1, escapes));
      }
      ++i;
    }
    return SUCCESS;
  }
  return cj::walk(v, depth, escapes);
}

void mapper::impl::begin_element(std::int32_t idx) {
  index = idx;
  hashed = false;
  std::fill(slots.begin(), slots.end(), value_ref{});
  std::fill(seen.begin(), seen.end(), std::uint8_t{0});
}

error_code mapper::impl::element(sj::value& v, std::int32_t idx, unsigned depth) {
  if (out->events == opts.max_events) {
    fail(errc::too_many_events, -1, "too many events: at most " + std::to_string(opts.max_events) + " per request");
    return stop;
  }
  begin_element(idx);
  SIMDJSON_TRY(visit(v, 0, depth));
  return emit() ? SUCCESS : stop;
}

// Walks `v`, which trie node `node` matched, recording the values placeholders
// point at and checking the rest.
error_code mapper::impl::visit(sj::value& v, std::uint32_t node, unsigned depth) {
  const detail::trie_node& n = r->nodes[node];
  const std::string_view tok = v.raw_json_token();
  const char c = tok[0];
  if (c != '{' && c != '[') {
    const std::string_view t = cj::trim_token(tok);
    SIMDJSON_TRY(cj::check_scalar(t, escapes));
    if (n.slot >= 0) slots[static_cast<std::size_t>(n.slot)] = {t.data(), static_cast<std::uint32_t>(t.size()), kind_of(c)};
    return SUCCESS;
  }
  if (depth >= cj::max_depth) return simdjson::DEPTH_ERROR;
  if (n.children.empty()) {
    SIMDJSON_TRY(cj::walk(v, depth, escapes));
  } else if (c == '{') {
    sj::object obj;
    SIMDJSON_TRY(v.get_object().get(obj));
    for (auto item : obj) {
      SIMDJSON_TRY(item.error());
      sj::field& f = item.value_unsafe();  // in place: see cloudevents/event_check.cpp
      sj::value& fv = f.value();
      std::string_view key = cj::raw_key(f.key().raw(), fv.raw_json_token().data());
      if (escapes && cj::has_backslash(key)) {
        if (!cj::valid_escapes(key)) return simdjson::STRING_ERROR;
        SIMDJSON_TRY(f.unescaped_key().get(key));
      }
      std::int64_t child = -1;
      for (std::uint32_t ch : n.children) {
        if (r->nodes[ch].key == key) {
          child = ch;
          break;
        }
      }
      if (child >= 0 && !seen[static_cast<std::size_t>(child)]) {
        seen[static_cast<std::size_t>(child)] = 1;
        SIMDJSON_TRY(visit(fv, static_cast<std::uint32_t>(child), depth + 1));
      } else {
        SIMDJSON_TRY(cj::walk(fv, depth + 1, escapes));
      }
    }
  } else {
    sj::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    std::int64_t i = 0;
    for (auto item : arr) {
      SIMDJSON_TRY(item.error());
      sj::value& iv = item.value_unsafe();
      std::int64_t child = -1;
      for (std::uint32_t ch : n.children) {
        if (r->nodes[ch].index == i) {
          child = ch;
          break;
        }
      }
      if (child >= 0) {
        SIMDJSON_TRY(visit(iv, static_cast<std::uint32_t>(child), depth + 1));
      } else {
        SIMDJSON_TRY(cj::walk(iv, depth + 1, escapes));
      }
      ++i;
    }
  }
  if (n.slot >= 0) {
    const char* end = container_end();
    slots[static_cast<std::size_t>(n.slot)] = {tok.data(), static_cast<std::uint32_t>(end - tok.data()), kind_of(c)};
  }
  return SUCCESS;
}

// SHA-256 over the route path, a 0 byte and the element's bytes, cut to 128
// bits: equal for a retried payload, on any machine.
void mapper::impl::append_hash(std::string& o) {
  if (!hashed) {
    const value_ref& el = slots[r->element_slot];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    static constexpr char zero = '\0';
    EVP_DigestInit_ex2(md, sha256, nullptr);
    EVP_DigestUpdate(md, r->path.data(), r->path.size());
    EVP_DigestUpdate(md, &zero, 1);
    EVP_DigestUpdate(md, el.p, el.n);
    EVP_DigestFinal_ex(md, digest, &len);
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < hash_hex_len / 2; ++i) {
      hash_hex[2 * i] = hex[digest[i] >> 4];
      hash_hex[2 * i + 1] = hex[digest[i] & 0xf];
    }
    hashed = true;
  }
  o.append(hash_hex, hash_hex_len);
}

// Writes a template as JSON string content. Returns -1, or the slot of the
// first placeholder that points at nothing (or at null).
int mapper::impl::render_text(const detail::text_template& t, std::string& o) {
  for (const detail::piece& p : t.pieces) {
    switch (p.k) {
      case detail::piece::kind::text: o += p.text; break;
      case detail::piece::kind::hash: append_hash(o); break;
      case detail::piece::kind::slot: {
        const value_ref& v = slots[p.slot];
        if (v.p == nullptr || v.k == kind::null) return static_cast<int>(p.slot);
        if (v.k == kind::string) {
          o.append(v.p + 1, v.n - 2);  // still escaped as in the body: valid string content as it is
        } else if (v.k == kind::object || v.k == kind::array) {
          detail::append_escaped(o, {v.p, v.n});  // its JSON text, as a string
        } else {
          o.append(v.p, v.n);  // a number or boolean: its JSON text
        }
        break;
      }
    }
  }
  return -1;
}

// Writes a data template node as a JSON value. Returns -1, or the slot that
// points at nothing (the caller leaves the member out).
int mapper::impl::render_data(std::uint32_t node, std::string& o) {
  const detail::data_node& d = r->data[node];
  switch (d.k) {
    case detail::data_node::kind::literal: o += d.literal; return -1;
    case detail::data_node::kind::text: {
      if (d.text.single) {  // keeps the JSON type, null included
        const value_ref& v = slots[d.text.pieces[0].slot];
        if (v.p == nullptr) return static_cast<int>(d.text.pieces[0].slot);
        o.append(v.p, v.n);
        return -1;
      }
      o += '"';
      if (int miss = render_text(d.text, o); miss >= 0) return miss;
      o += '"';
      return -1;
    }
    case detail::data_node::kind::object: {
      o += '{';
      bool first = true;
      for (std::uint32_t ch : d.children) {
        const std::size_t mark = o.size();
        if (!first) o += ',';
        o += r->data[ch].key;
        if (render_data(ch, o) >= 0) {
          o.resize(mark);  // points at nothing: the member is left out
        } else {
          first = false;
        }
      }
      o += '}';
      return -1;
    }
    case detail::data_node::kind::array: {
      o += '[';
      bool first = true;
      for (std::uint32_t ch : d.children) {
        if (!first) o += ',';
        first = false;
        const std::size_t mark = o.size();
        if (render_data(ch, o) >= 0) {
          o.resize(mark);
          o += "null";  // an item keeps its place
        }
      }
      o += ']';
      return -1;
    }
  }
  return -1;
}

bool mapper::impl::attribute(const detail::text_template& t, std::string_view name) {
  std::string& o = out->buf;
  o += ",\"";
  o += name;
  o += "\":\"";
  const std::size_t start = o.size();
  if (const int miss = render_text(t, o); miss >= 0) {
    const value_ref& v = slots[static_cast<std::size_t>(miss)];
    const std::string& ptr = r->slot_pointer[static_cast<std::size_t>(miss)];
    return fail(errc::unmapped, index,
                "route " + r->path + ": element " + std::to_string(index) + ": " + std::string(name) + ": " +
                    (ptr.empty() ? std::string("{}") : ptr) + (v.p == nullptr ? " points at nothing" : " is null"));
  }
  if (o.size() == start) {
    return fail(errc::unmapped, index,
                "route " + r->path + ": element " + std::to_string(index) + ": " + std::string(name) + " is empty");
  }
  o += '"';
  return true;
}

// `time`, or nothing when its placeholder points at nothing (receipt time).
bool mapper::impl::time() {
  if (!r->has_time) return true;
  std::string& o = out->buf;
  const std::size_t mark = o.size();
  if (r->format == time_format::rfc3339) {
    o += ",\"time\":\"";
    if (render_text(r->time, o) >= 0) {
      o.resize(mark);
    } else {
      o += '"';
    }
    return true;
  }
  scratch.clear();
  if (render_text(r->time, scratch) >= 0) return true;
  char text[rfc3339_millis_len];
  if (!detail::unix_to_rfc3339(scratch, r->format, text)) {
    std::string shown;
    detail::append_escaped(shown, std::string_view(scratch).substr(0, 64));
    return fail(errc::unmapped, index,
                "route " + r->path + ": element " + std::to_string(index) + ": time: \"" + shown + "\" is not a " +
                    (r->format == time_format::unix_s ? "unix_s time (seconds" : "unix_ms time (milliseconds") +
                    " since 1970-01-01 as a decimal number, years 0000-9999)");
  }
  o += ",\"time\":\"";
  o.append(text, sizeof text);
  o += '"';
  return true;
}

bool mapper::impl::emit() {
  std::string& o = out->buf;
  if (out->events != 0) o += ',';
  o += "{\"specversion\":\"1.0\"";
  if (!attribute(r->id, "id") || !attribute(r->source, "source") || !attribute(r->type, "type") ||
      !attribute(r->subject, "subject") || !time()) {
    return false;
  }
  if (!r->data.empty()) {
    const std::size_t mark = o.size();
    o += ",\"data\":";
    if (render_data(0, o) >= 0) o.resize(mark);
  }
  o += '}';
  ++out->events;
  if (o.size() > opts.max_output_bytes) {
    return fail(errc::output_too_large, -1,
                "mapped events too large: more than " + std::to_string(opts.max_output_bytes) + " bytes per request");
  }
  return true;
}

}  // namespace tg::mapping
