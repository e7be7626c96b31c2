// SPDX-License-Identifier: Apache-2.0
// The compiled form of one route, shared by the routes parser (routes.cpp) and
// the engine (mapper.cpp). Every JSON pointer of the route is merged into one
// trie, so the engine finds all of an element's values in a single pass over
// it; templates are lists of pre-escaped text and references to trie slots.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tollgate/mapping/routes.hpp"

namespace tg::mapping {
namespace detail {

// A node of the pointer trie: one reference token below its parent. The root
// (node 0) is the element itself.
struct trie_node {
  std::string key;                   // the token unescaped (~1 is '/', ~0 is '~'): an object member name
  std::int64_t index = -1;           // the token as an array index, when it is one ("0", "17"; not "01" or "-")
  std::int32_t slot = -1;            // where the value is recorded, when a placeholder ends here
  std::vector<std::uint32_t> children;
};

// A piece of a text template: literal text (already JSON-escaped), the value
// of a slot, or the element's hash.
struct piece {
  enum class kind : std::uint8_t { text, slot, hash };
  kind k = kind::text;
  std::uint32_t slot = 0;
  std::string text;
};

struct text_template {
  std::vector<piece> pieces;
  bool single = false;  // exactly one {pointer} and nothing else: keeps the JSON type inside data
};

// A node of the `data` template, in a flat vector (children follow in order).
struct data_node {
  enum class kind : std::uint8_t { object, array, text, literal };
  kind k = kind::literal;
  std::string key;                   // inside an object: "\"name\":", escaped
  text_template text;                // kind::text
  std::string literal;               // kind::literal: raw JSON (number, true, false, null)
  std::vector<std::uint32_t> children;  // object members / array items
};

}  // namespace detail

struct route {
  std::string path;
  bool has_each = false;
  std::vector<std::string> each_tokens;  // unescaped reference tokens from the body root to the array
  std::string each_pointer;              // as written, for errors
  std::vector<detail::trie_node> nodes;  // node 0: the element
  std::vector<std::string> slot_pointer; // each slot's pointer as written ("/usage/prompt_tokens", "" for {})
  std::uint32_t element_slot = 0;        // the slot of node 0 (valid when needs_element)
  bool needs_element = false;            // `{}` or `{#hash}` is used: record the element's bytes
  detail::text_template id, source, type, subject, time;
  bool has_time = false;
  time_format format = time_format::rfc3339;
  std::vector<detail::data_node> data;   // data[0] is the root; empty: no data
};

}  // namespace tg::mapping
