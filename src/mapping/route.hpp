// SPDX-License-Identifier: Apache-2.0
// The compiled form of one route, shared by the routes parser (routes.cpp) and
// the engine (mapper.cpp). Every JSON pointer of the route is merged into one
// trie, so the engine finds all of an element's values in a single pass over
// it; templates are lists of pre-escaped text and references to trie slots.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tollgate/mapping/routes.hpp"

namespace tg::mapping {
namespace detail {

// Compiled text the engine copies with fixed-size moves (see writer::put_short):
// stored with copy_slack zero bytes after it.
inline constexpr std::size_t copy_slack = 32;

struct text_bytes {
  std::string bytes;  // the text, then copy_slack zero bytes
  std::uint32_t n = 0;
  void assign(std::string_view text) {
    bytes.assign(text);
    n = static_cast<std::uint32_t>(text.size());
    bytes.append(copy_slack, '\0');
  }
  std::string_view view() const noexcept { return {bytes.data(), n}; }
};

// A node of the pointer trie: one reference token below its parent. The root
// (node 0) is the element itself.
struct trie_node {
  std::string key;                   // the token unescaped (~1 is '/', ~0 is '~'): an object member name
  std::int64_t index = -1;           // the token as an array index, when it is one ("0", "17"; not "01" or "-")
  std::int32_t slot = -1;            // where the value is recorded, when a placeholder ends here
  std::vector<std::uint32_t> children;
  // The children's keys by their first 8 bytes (zero-filled) and length, in
  // an open-addressing table (at most half full) indexed by key_hash(): a
  // member name, matched or not, costs about one compare.
  struct child_key {
    std::uint64_t prefix = 0;
    std::uint32_t size = 0;
    std::int32_t node = -1;  // -1: an empty entry
  };
  std::vector<child_key> table;  // a power of two in size, or empty
  unsigned shift = 64;
};

inline std::size_t key_hash(std::uint64_t prefix, std::size_t size, unsigned shift) noexcept {
  return static_cast<std::size_t>(((prefix ^ (size * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull) >> shift);
}

// The first min(n, 8) bytes at p as a word, the rest zero. Reads 8 bytes: p
// must have 8 readable bytes (a body, followed by simdjson's padding).
inline std::uint64_t key_prefix(const char* p, std::size_t n) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  return n >= 8 ? x : (n == 0 ? 0 : x & (~0ull >> (64 - 8 * n)));
}

// A piece of a text template: literal text (already JSON-escaped), the value
// of a slot, or the element's hash.
struct piece {
  enum class kind : std::uint8_t { text, slot, hash };
  kind k = kind::text;
  std::uint32_t slot = 0;
  text_bytes text;  // kind::text, escaped
};

struct text_template {
  std::vector<piece> pieces;
  bool single = false;  // exactly one {pointer} and nothing else: keeps the JSON type inside data
};

// A node of the `data` template, in a flat vector (children follow in order).
struct data_node {
  enum class kind : std::uint8_t { object, array, text, literal };
  kind k = kind::literal;
  text_bytes key;                    // inside an object: "\"name\":", escaped
  text_template text;                // kind::text
  text_bytes literal;                // kind::literal: raw JSON (number, true, false, null)
  std::vector<std::uint32_t> children;  // object members / array items
};

}  // namespace detail

struct route {
  std::string path;
  bool has_each = false;
  std::vector<std::string> each_tokens;  // unescaped reference tokens from the body root to the array
  std::vector<std::int64_t> each_index;  // each token as an array index, or -1 (see trie_node::index)
  std::string each_pointer;              // as written, for errors
  std::vector<detail::trie_node> nodes;  // node 0: the element
  std::vector<std::string> slot_pointer; // each slot's pointer as written ("/usage/prompt_tokens", "" for {})
  std::uint32_t element_slot = 0;        // the slot of node 0 (valid when needs_element)
  bool needs_element = false;            // `{}` or `{#hash}` is used: record the element's bytes
  detail::text_template id, source, type, subject, time;
  bool has_time = false;
  time_format format = time_format::rfc3339;
  std::vector<detail::data_node> data;   // data[0] is the root; empty: no data

  // For the engine's output bound (one reservation per event): the bytes an
  // event takes besides its values, and how often each slot's value is written
  // inside a string (escaped: up to 6 bytes a byte) and as raw JSON.
  std::size_t fixed_bytes = 0;
  std::vector<std::uint32_t> uses_in_text, uses_raw;
};

}  // namespace tg::mapping
