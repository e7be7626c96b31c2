// SPDX-License-Identifier: Apache-2.0
// The routes file compiler. Runs at start and on SIGHUP, never per request, so
// it uses simdjson's DOM for its random access and spends freely on clear
// errors: every one names the route and the field.
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "json_out.hpp"
#include "route.hpp"

namespace tg::mapping {

struct route_table::impl {
  std::vector<route> routes;  // sorted by path
};

const route* route_table::find(std::string_view path) const noexcept {
  if (!impl_) return nullptr;
  const auto& v = impl_->routes;
  auto it = std::lower_bound(v.begin(), v.end(), path, [](const route& r, std::string_view p) { return r.path < p; });
  return it != v.end() && it->path == path ? &*it : nullptr;
}

std::size_t route_table::size() const noexcept { return impl_ ? impl_->routes.size() : 0; }

std::vector<std::string_view> route_table::paths() const {
  std::vector<std::string_view> out;
  if (impl_) {
    for (const route& r : impl_->routes) out.emplace_back(r.path);
  }
  return out;
}

std::string_view path_of(const route& r) noexcept { return r.path; }

namespace {

namespace dom = simdjson::dom;
using detail::data_node;
using detail::piece;
using detail::text_template;

std::string echo(std::string_view s) {
  constexpr std::size_t max_echo = 80;
  std::string out = "\"";
  detail::append_escaped(out, s.substr(0, max_echo));
  if (s.size() > max_echo) out += "...";
  return out + "\"";
}

const char* type_name(dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
    default: return "a number";
  }
}

// Compiles one route; `fail` collects the first error with the route's name.
class compiler {
 public:
  compiler(route& r, const route_limits& lim, std::string where) : r_(r), lim_(lim), where_(std::move(where)) {
    r_.nodes.emplace_back();  // node 0: the element
  }

  bool fail(std::string_view field, std::string_view what) {
    err_ = where_;
    if (!field.empty()) err_.append(": ").append(field);
    err_.append(": ").append(what);
    return false;
  }
  const std::string& error() const { return err_; }

  // "{/a/b}" or "{}": one placeholder naming a pointer (for `each`). It is
  // resolved from the body's root, not inside an element, so it stays out of
  // the element trie.
  bool each(std::string_view text) {
    const bool one = text.size() >= 2 && text.front() == '{' && text.back() == '}' &&
                     text.find_first_of("{}", 1) == text.size() - 1 && (text.size() == 2 || text[1] == '/');
    if (!one) return fail("each", "must be one placeholder such as \"{/requests}\" or \"{}\", got " + echo(text));
    const std::string_view ptr = text.substr(1, text.size() - 2);
    r_.has_each = true;
    r_.each_pointer = std::string(ptr);
    if (!split_pointer(ptr, "each", r_.each_tokens)) return false;
    for (const std::string& tok : r_.each_tokens) r_.each_index.push_back(as_index(tok));
    return true;
  }

  bool attribute(dom::object event, std::string_view name, text_template& out, bool required) {
    dom::element v;
    if (event[name].get(v) != simdjson::SUCCESS) {
      return required ? fail("", "event." + std::string(name) + " is missing (a CloudEvent requires it)") : true;
    }
    const std::string field = "event." + std::string(name);
    std::string_view text;
    if (v.get_string().get(text) != simdjson::SUCCESS) {
      return fail(field, std::string("must be a string template, got ") + type_name(v));
    }
    if (text.empty()) return fail(field, "must not be empty");
    return parse_template(text, field, out);
  }

  bool data(dom::element v) {
    if (v.type() == dom::element_type::STRING) {
      std::string_view text;
      text = v.get_string().value_unsafe();
      text_template t;
      if (!parse_template(text, "event.data", t)) return false;
      if (!t.single) {
        return fail("event.data", "must be a JSON object or one placeholder such as \"{}\", got " + echo(text));
      }
      data_node n;
      n.k = data_node::kind::text;
      n.text = std::move(t);
      r_.data.push_back(std::move(n));
      return true;
    }
    if (v.type() != dom::element_type::OBJECT) {
      return fail("event.data", std::string("must be a JSON object or one placeholder such as \"{}\", got ") +
                                    type_name(v));
    }
    return data_value(v, "event.data", 0) >= 0;
  }

 private:
  // Appends the node for `v` (and its children after it); returns its index, -1 on error.
  std::int64_t data_value(dom::element v, const std::string& field, std::size_t depth) {
    if (r_.data.size() >= lim_.max_data_nodes) {
      fail(field, "the data template has more than " + std::to_string(lim_.max_data_nodes) + " members and items");
      return -1;
    }
    const auto self = static_cast<std::uint32_t>(r_.data.size());
    r_.data.emplace_back();
    switch (v.type()) {
      case dom::element_type::OBJECT: {
        if (depth >= lim_.max_data_depth) {
          fail(field, "nests deeper than " + std::to_string(lim_.max_data_depth) + " levels");
          return -1;
        }
        r_.data[self].k = data_node::kind::object;
        dom::object obj;
        obj = v.get_object().value_unsafe();
        std::vector<std::string_view> keys;
        for (auto [key, member] : obj) {
          const std::string sub = field + "." + std::string(key);
          if (std::find(keys.begin(), keys.end(), key) != keys.end()) {
            fail(sub, "appears twice");
            return -1;
          }
          keys.push_back(key);
          const std::int64_t child = data_value(member, sub, depth + 1);
          if (child < 0) return -1;
          r_.data[static_cast<std::size_t>(child)].key.assign("\"" + detail::escaped(key) + "\":");
          r_.data[self].children.push_back(static_cast<std::uint32_t>(child));
        }
        return self;
      }
      case dom::element_type::ARRAY: {
        if (depth >= lim_.max_data_depth) {
          fail(field, "nests deeper than " + std::to_string(lim_.max_data_depth) + " levels");
          return -1;
        }
        r_.data[self].k = data_node::kind::array;
        dom::array arr;
        arr = v.get_array().value_unsafe();
        std::size_t i = 0;
        for (dom::element item : arr) {
          const std::int64_t child = data_value(item, field + "[" + std::to_string(i++) + "]", depth + 1);
          if (child < 0) return -1;
          r_.data[self].children.push_back(static_cast<std::uint32_t>(child));
        }
        return self;
      }
      case dom::element_type::STRING: {
        std::string_view text;
        text = v.get_string().value_unsafe();
        text_template t;
        if (!parse_template(text, field, t)) return -1;
        r_.data[self].k = data_node::kind::text;
        r_.data[self].text = std::move(t);
        return self;
      }
      default:  // a number, a boolean or null: written as it is
        r_.data[self].k = data_node::kind::literal;
        r_.data[self].literal.assign(simdjson::minify(v));
        return self;
    }
  }

  // Text with {POINTER}, {} and {#hash} placeholders; {{ and }} are literal braces.
  bool parse_template(std::string_view text, std::string_view field, text_template& out) {
    std::string literal;
    std::size_t placeholders = 0;
    auto flush = [&] {
      if (literal.empty()) return;
      piece p;
      p.text.assign(detail::escaped(literal));
      out.pieces.push_back(std::move(p));
      literal.clear();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '}') {
        if (i + 1 < text.size() && text[i + 1] == '}') {
          literal += '}';
          ++i;
          continue;
        }
        return fail(field, "unmatched '}' in " + echo(text) + " (write '}}' for a literal '}')");
      }
      if (c != '{') {
        literal += c;
        continue;
      }
      if (i + 1 < text.size() && text[i + 1] == '{') {
        literal += '{';
        ++i;
        continue;
      }
      const std::size_t close = text.find('}', i + 1);
      if (close == std::string_view::npos) {
        return fail(field, "unclosed '{' in " + echo(text) + " (write '{{' for a literal '{')");
      }
      const std::string_view inner = text.substr(i + 1, close - i - 1);
      flush();
      piece p;
      if (inner == "#hash") {
        p.k = piece::kind::hash;
        r_.needs_element = true;
      } else if (inner.empty() || inner[0] == '/') {
        std::vector<std::string> tokens;
        if (!split_pointer(inner, field, tokens)) return false;
        p.k = piece::kind::slot;
        if (!slot_for(tokens, inner, field, p.slot)) return false;
        if (inner.empty()) r_.needs_element = true;
      } else {
        return fail(field, "unknown placeholder {" + std::string(inner) +
                               "}: use {/json/pointer}, {} for the whole element or {#hash}");
      }
      out.pieces.push_back(std::move(p));
      ++placeholders;
      i = close;
    }
    flush();
    out.single = placeholders == 1 && out.pieces.size() == 1 && out.pieces[0].k == piece::kind::slot;
    return true;
  }

  // RFC 6901: "" is the whole value; otherwise '/'-separated tokens with ~1
  // for '/' and ~0 for '~'.
  bool split_pointer(std::string_view ptr, std::string_view field, std::vector<std::string>& tokens) {
    tokens.clear();
    if (ptr.empty()) return true;
    std::size_t i = 1;  // past the leading '/'
    for (;;) {
      const std::size_t slash = ptr.find('/', i);
      const std::string_view raw = ptr.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i);
      std::string tok;
      for (std::size_t k = 0; k < raw.size(); ++k) {
        if (raw[k] != '~') {
          tok += raw[k];
          continue;
        }
        if (k + 1 < raw.size() && (raw[k + 1] == '0' || raw[k + 1] == '1')) {
          tok += raw[k + 1] == '0' ? '~' : '/';
          ++k;
          continue;
        }
        return fail(field, "bad escape in JSON pointer " + echo(ptr) + ": '~' must be followed by 0 or 1");
      }
      tokens.push_back(std::move(tok));
      if (tokens.size() > lim_.max_pointer_tokens) {
        return fail(field, "JSON pointer " + echo(ptr) + " has more than " + std::to_string(lim_.max_pointer_tokens) +
                               " tokens");
      }
      if (slash == std::string_view::npos) return true;
      i = slash + 1;
    }
  }

  static std::int64_t as_index(const std::string& tok) {
    if (tok.empty() || tok.size() > 9) return -1;  // past 10^9 items no body fits
    if (tok.size() > 1 && tok[0] == '0') return -1;
    std::int64_t v = 0;
    for (char c : tok) {
      if (c < '0' || c > '9') return -1;
      v = v * 10 + (c - '0');
    }
    return v;
  }

  // The slot a pointer's value is recorded in: the trie is extended as needed.
  bool slot_for(const std::vector<std::string>& tokens, std::string_view ptr, std::string_view field,
                std::uint32_t& slot) {
    std::uint32_t node = 0;
    for (const std::string& tok : tokens) {
      std::uint32_t next = 0;
      bool found = false;
      for (std::uint32_t c : r_.nodes[node].children) {
        if (r_.nodes[c].key == tok) {
          next = c;
          found = true;
          break;
        }
      }
      if (!found) {
        next = static_cast<std::uint32_t>(r_.nodes.size());
        detail::trie_node n;
        n.key = tok;
        n.index = as_index(tok);
        r_.nodes.push_back(std::move(n));
        r_.nodes[node].children.push_back(next);
      }
      node = next;
    }
    if (r_.nodes[node].slot < 0) {
      if (r_.slot_pointer.size() >= lim_.max_placeholders) {
        return fail(field, "the route uses more than " + std::to_string(lim_.max_placeholders) + " distinct pointers");
      }
      r_.nodes[node].slot = static_cast<std::int32_t>(r_.slot_pointer.size());
      r_.slot_pointer.emplace_back(ptr);
    }
    slot = static_cast<std::uint32_t>(r_.nodes[node].slot);
    return true;
  }

  route& r_;
  const route_limits& lim_;
  std::string where_;
  std::string err_;
};

// The key tables of the trie, and the figures behind the engine's output bound.
void finish(route& r) {
  for (detail::trie_node& n : r.nodes) {
    if (n.children.empty()) continue;
    std::size_t size = 2;
    unsigned bits = 1;
    while (size < 2 * n.children.size()) size *= 2, ++bits;
    n.table.assign(size, {});
    n.shift = 64 - bits;
    for (std::uint32_t c : n.children) {
      const std::string& key = r.nodes[c].key;
      char head[8] = {};
      std::memcpy(head, key.data(), std::min<std::size_t>(key.size(), 8));
      const std::uint64_t prefix = detail::key_prefix(head, key.size());
      std::size_t i = detail::key_hash(prefix, key.size(), n.shift);
      while (n.table[i].node >= 0) i = (i + 1) & (size - 1);
      n.table[i] = {prefix, static_cast<std::uint32_t>(key.size()), static_cast<std::int32_t>(c)};
    }
  }
  const std::size_t slots = r.slot_pointer.size() + 1;  // + the element's, should it be added
  r.uses_in_text.assign(slots, 0);
  r.uses_raw.assign(slots, 0);
  constexpr std::size_t hash_len = 32, per_node = 8;  // quotes, colon, comma, brackets: at most this many
  std::size_t fixed = 128;  // {"specversion":"1.0","id":"… the attribute names and a time
  auto text = [&](const detail::text_template& t) {
    fixed += per_node;
    for (const detail::piece& p : t.pieces) {
      if (p.k == detail::piece::kind::text) fixed += p.text.n;
      else if (p.k == detail::piece::kind::hash) fixed += hash_len;
      else ++r.uses_in_text[p.slot];
    }
  };
  text(r.id), text(r.source), text(r.type), text(r.subject), text(r.time);
  for (const detail::data_node& d : r.data) {
    fixed += per_node + d.key.n + d.literal.n;
    if (d.k != detail::data_node::kind::text) continue;
    if (d.text.single) ++r.uses_raw[d.text.pieces[0].slot];
    else text(d.text);
  }
  r.fixed_bytes = fixed;
}

bool valid_path(std::string_view p) {
  if (p.empty() || p[0] != '/') return false;
  for (char c : p) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '?' || c == '#') return false;
  }
  return true;
}

bool compile_route(dom::element v, std::size_t index, const route_limits& lim, route& r, std::string& err) {
  const std::string at = "routes[" + std::to_string(index) + "]";
  dom::object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) {
    err = at + ": must be an object with path and event";
    return false;
  }
  std::string_view path;
  dom::element pv;
  if (obj["path"].get(pv) != simdjson::SUCCESS) {
    err = at + ": path is missing";
    return false;
  }
  if (pv.get_string().get(path) != simdjson::SUCCESS || !valid_path(path)) {
    err = at + ": path: must be a string starting with '/', without '?', '#' or white space";
    return false;
  }
  r.path = std::string(path);
  compiler c(r, lim, "route " + r.path);
  auto bad = [&](std::string_view field, std::string_view what) {
    c.fail(field, what);
    err = c.error();
    return false;
  };
  std::vector<std::string_view> seen;
  for (auto [key, member] : obj) {
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return bad(key, "appears twice");
    seen.push_back(key);
    if (key != "path" && key != "each" && key != "event") {
      return bad("", "unknown field " + echo(key) + " (a route has path, each and event)");
    }
  }
  dom::element each;
  if (obj["each"].get(each) == simdjson::SUCCESS) {
    std::string_view text;
    if (each.get_string().get(text) != simdjson::SUCCESS) {
      return bad("each", std::string("must be a string such as \"{/requests}\", got ") + type_name(each));
    }
    if (!c.each(text)) return err = c.error(), false;
  }
  dom::element ev;
  if (obj["event"].get(ev) != simdjson::SUCCESS) return bad("", "event is missing");
  dom::object event;
  if (ev.get_object().get(event) != simdjson::SUCCESS) {
    return bad("event", std::string("must be an object, got ") + type_name(ev));
  }
  seen.clear();
  for (auto [key, member] : event) {
    const std::string field = "event." + std::string(key);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) return bad(field, "appears twice");
    seen.push_back(key);
    constexpr std::string_view known[] = {"id", "type", "source", "subject", "time", "time_format", "data"};
    if (std::find(std::begin(known), std::end(known), key) == std::end(known)) {
      return bad("", "unknown field " + echo(field) +
                         " (an event template has id, type, source, subject, time, time_format and data)");
    }
  }
  if (!c.attribute(event, "id", r.id, true) || !c.attribute(event, "type", r.type, true) ||
      !c.attribute(event, "source", r.source, true) || !c.attribute(event, "subject", r.subject, true)) {
    return err = c.error(), false;
  }
  dom::element t;
  r.has_time = event["time"].get(t) == simdjson::SUCCESS;
  if (r.has_time && !c.attribute(event, "time", r.time, false)) return err = c.error(), false;
  dom::element tf;
  if (event["time_format"].get(tf) == simdjson::SUCCESS) {
    std::string_view f;
    if (tf.get_string().get(f) != simdjson::SUCCESS) f = "";
    if (f == "rfc3339") r.format = time_format::rfc3339;
    else if (f == "unix_s") r.format = time_format::unix_s;
    else if (f == "unix_ms") r.format = time_format::unix_ms;
    else return bad("event.time_format", "must be rfc3339, unix_s or unix_ms, got " + (f.empty() ? std::string(type_name(tf)) : echo(f)));
    if (!r.has_time) return bad("event.time_format", "is given without event.time");
  }
  dom::element d;
  if (event["data"].get(d) == simdjson::SUCCESS && !c.data(d)) return err = c.error(), false;
  finish(r);
  if (r.needs_element) {
    // {} and {#hash} both need the element's bytes: give the root a slot.
    if (r.nodes[0].slot < 0) {
      r.nodes[0].slot = static_cast<std::int32_t>(r.slot_pointer.size());
      r.slot_pointer.emplace_back();
    }
    r.element_slot = static_cast<std::uint32_t>(r.nodes[0].slot);
  }
  return true;
}

}  // namespace

result<route_table, std::string> parse_routes(std::string_view json, const route_limits& limits) {
  using fail = unexpected<std::string>;
  if (json.size() > limits.max_file_bytes) {
    return fail{"mappings file is larger than " + std::to_string(limits.max_file_bytes) + " bytes"};
  }
  dom::parser parser;
  dom::element root;
  if (auto e = parser.parse(simdjson::padded_string(json)).get(root)) {
    return fail{std::string("mappings file is not valid JSON: ") + simdjson::error_message(e)};
  }
  dom::object top;
  if (root.get_object().get(top) != simdjson::SUCCESS) {
    return fail{"mappings file must be a JSON object with a \"routes\" array"};
  }
  for (auto [key, member] : top) {
    if (key != "routes") return fail{"mappings file: unknown field " + echo(key) + " (expected \"routes\")"};
  }
  dom::array list;
  if (top["routes"].get_array().get(list) != simdjson::SUCCESS) {
    return fail{"mappings file must be a JSON object with a \"routes\" array"};
  }
  auto table = std::make_shared<route_table::impl>();
  std::size_t index = 0;
  for (dom::element item : list) {
    if (table->routes.size() == limits.max_routes) {
      return fail{"mappings file has more than " + std::to_string(limits.max_routes) + " routes"};
    }
    route r;
    std::string err;
    if (!compile_route(item, index++, limits, r, err)) return fail{err};
    table->routes.push_back(std::move(r));
  }
  std::sort(table->routes.begin(), table->routes.end(), [](const route& a, const route& b) { return a.path < b.path; });
  for (std::size_t i = 1; i < table->routes.size(); ++i) {
    if (table->routes[i].path == table->routes[i - 1].path) {
      return fail{"route " + table->routes[i].path + ": path: defined twice"};
    }
  }
  route_table out;
  out.impl_ = std::move(table);
  return out;
}

}  // namespace tg::mapping
