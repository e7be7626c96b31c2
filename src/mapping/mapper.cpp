// SPDX-License-Identifier: Apache-2.0
// The engine: one pass of simdjson On-Demand over the body. The route's
// pointers form a trie, so each element is walked once, recording where the
// values its templates need lie in the body; everything else is checked as
// JSON and skipped. Each element's event is written as soon as the element has
// been walked. Values are copied byte for byte (numbers keep their text,
// strings their escapes), never re-encoded.
#include "tollgate/mapping/mapper.hpp"

#include <algorithm>
#include <cstring>

#include "../cloudevents/event_check.hpp"  // walk(), check_scalar(): the validator's own JSON checks
#include "../cloudevents/json_scan.hpp"
#include "engine.hpp"

namespace tg::mapping {

namespace sj = simdjson::ondemand;
namespace cj = cloudevents::detail;
using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

using detail::kind;
using detail::value_ref;

// Returned up the walk once `err` holds a mapping error (not a JSON one).
constexpr error_code stop = simdjson::UNEXPECTED_ERROR;

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

mapper::mapper(const options& opts) : impl_(std::make_unique<impl>()) {
  impl_->opts = opts;
}

mapper::~mapper() = default;

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
  out.events = 0;
  out.json_size = 0;
  m.w.start(out.buf);
  m.w.reserve(1 + output_padding);
  m.w.put('[');
  const bool ok = m.run();
  if (!ok) m.w.rewind(0);
  m.w.reserve(1 + output_padding);
  if (ok) m.w.put(']');
  out.json_size = m.w.pos();
  std::memset(out.buf.data() + out.json_size, ' ', output_padding);
  if (!ok) out.events = 0;
  return ok;
}

bool mapper::impl::fail(errc code, std::int32_t idx, std::string detail) {
  err->code = code;
  err->index = idx;
  err->detail = std::move(detail);
  return false;
}

bool mapper::impl::fail_json(error_code code, bool located) {
  if (err->code != errc::none) return false;  // a mapping error stopped the walk
  if (code == simdjson::DEPTH_ERROR) return fail(errc::malformed_json, -1, "malformed JSON: nested too deeply");
  std::string d = "malformed JSON: ";
  d += simdjson::error_message(code);
  const char* loc = nullptr;
  if (located && doc.current_location().get(loc) == SUCCESS && loc >= body.data() && loc <= body.data() + body.size()) {
    d += " (near byte " + std::to_string(loc - body.data()) + ")";
  }
  return fail(errc::malformed_json, -1, std::move(d));
}

bool mapper::impl::run() {
  std::size_t first = 0;
  while (first < body.size() && cj::is_ws(body[first])) ++first;
  if (first == body.size()) return fail(errc::empty_body, -1, "request body is empty");
  if (auto e = parser.iterate(body.data(), body.size(), body.size() + simdjson::SIMDJSON_PADDING).get(doc)) {
    return fail_json(e, false);  // no document to ask for a location
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
    const std::int64_t want_index = r->each_index[level];
    std::int64_t i = 0;
    for (auto item : arr) {
      SIMDJSON_TRY(item.error());
      sj::value& iv = item.value_unsafe();
      if (i == want_index && !matched) {  // `each` through an array
        matched = true;
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

// One member or item: trie node `child` (-1: none) matched it. Scalars, most
// of what an element holds, are checked and recorded here, inlined into the
// loops, rather than in a call per member.
[[gnu::always_inline]] inline error_code mapper::impl::member(sj::value& v, std::int64_t child, unsigned depth) {
  const std::string_view tok = v.raw_json_token();
  const char c = tok[0];
  if (c == '{' || c == '[') {
    return child >= 0 ? visit(v, static_cast<std::uint32_t>(child), depth) : cj::walk(v, depth, escapes);
  }
  std::string_view t;
  if (c == '"') {
    t = cj::trim_token(tok);
    if (escapes && !cj::valid_escapes(cj::string_body(t))) return simdjson::STRING_ERROR;
    // Consumed here: left to the enclosing loop, a string costs an extra look
    // at the token after it (see cloudevents/event_check.cpp).
    sj::raw_json_string unused;
    SIMDJSON_TRY(v.get_raw_json_string().get(unused));
  } else {
    t = cj::trim_token(tok);
    SIMDJSON_TRY(cj::check_scalar(t, escapes));
  }
  if (child >= 0) {
    const std::int32_t slot = r->nodes[static_cast<std::size_t>(child)].slot;
    if (slot >= 0) slots[static_cast<std::size_t>(slot)] = {t.data(), static_cast<std::uint32_t>(t.size()), kind_of(c)};
  }
  return SUCCESS;
}

// The child of `n` named `key`, or -1: one probe of its key table, rarely two.
[[gnu::always_inline]] inline std::int64_t match(const route& r, const detail::trie_node& n, std::uint64_t prefix,
                                                 std::string_view key) noexcept {
  const std::size_t mask = n.table.size() - 1;
  for (std::size_t i = detail::key_hash(prefix, key.size(), n.shift);; i = (i + 1) & mask) {
    const detail::trie_node::child_key& c = n.table[i];
    if (c.node < 0) return -1;
    if (c.prefix == prefix && c.size == key.size() &&
        (key.size() <= 8 ||
         std::memcmp(r.nodes[static_cast<std::size_t>(c.node)].key.data() + 8, key.data() + 8, key.size() - 8) == 0)) {
      return c.node;
    }
  }
}

// Walks `v`, which trie node `node` matched, recording the values placeholders
// point at and checking the rest.
error_code mapper::impl::visit(sj::value& v, std::uint32_t node, unsigned depth) {
  const detail::trie_node& n = r->nodes[node];
  const std::string_view tok = v.raw_json_token();
  const char c = tok[0];
  if (c != '{' && c != '[') {  // an element of `each` that is no object: inside the array
    if (c == '"' && cj::followed_by_colon(tok)) return simdjson::TAPE_ERROR;
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
      std::uint64_t prefix;
      if (escapes && cj::has_backslash(key)) {  // rare: compared unescaped, from a copy
        if (!cj::valid_escapes(key)) return simdjson::STRING_ERROR;
        SIMDJSON_TRY(f.unescaped_key().get(key));
        char head[8] = {};
        std::memcpy(head, key.data(), std::min<std::size_t>(key.size(), 8));
        prefix = detail::key_prefix(head, key.size());
      } else {
        prefix = detail::key_prefix(key.data(), key.size());  // inside the padded body
      }
      const std::int64_t child = match(*r, n, prefix, key);
      if (child >= 0 && seen[static_cast<std::size_t>(child)]) {
        SIMDJSON_TRY(member(fv, -1, depth + 1));  // a repeated name: the first one counts
      } else {
        if (child >= 0) seen[static_cast<std::size_t>(child)] = 1;
        SIMDJSON_TRY(member(fv, child, depth + 1));
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
      SIMDJSON_TRY(member(iv, child, depth + 1));
      ++i;
    }
  }
  if (n.slot >= 0) {
    const char* end = container_end();
    slots[static_cast<std::size_t>(n.slot)] = {tok.data(), static_cast<std::uint32_t>(end - tok.data()), kind_of(c)};
  }
  return SUCCESS;
}


}  // namespace tg::mapping
