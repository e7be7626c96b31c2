// SPDX-License-Identifier: Apache-2.0
// The mapper's insides, shared by its two halves: mapper.cpp walks the body
// and records where each placeholder's value lies; render.cpp writes the
// events from those records. Lives in one mapper, on its shard's thread.
#pragma once

#include <simdjson.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "route.hpp"
#include "tollgate/mapping/mapper.hpp"

namespace tg::mapping {

namespace detail {

enum class kind : std::uint8_t { string, number, boolean, null, object, array };

// Where a pointer's value lies in the body: p == nullptr when it points at nothing.
struct value_ref {
  const char* p = nullptr;
  std::uint32_t n = 0;
  kind k = kind::null;
};

// Appends to a std::string used as raw storage: one bound is reserved per
// event, then bytes are stored without a capacity check each. The string's
// size is its capacity; `pos` is the end of what was written.
class writer {
 public:
  void start(std::string& s) noexcept {
    s_ = &s;
    p_ = s.data();
  }
  void reserve(std::size_t n) {
    const std::size_t at = pos();
    if (s_->size() - at < n) s_->resize(std::max(2 * s_->size(), at + n));
    p_ = s_->data() + at;
  }
  void put(char c) noexcept { *p_++ = c; }
  void put(const char* d, std::size_t n) noexcept {
    std::memcpy(p_, d, n);
    p_ += n;
  }
  void put(std::string_view v) noexcept { put(v.data(), v.size()); }
  // For bytes with at least copy_slack readable bytes after them (a body and
  // its padding, compiled text_bytes): short ones move in two fixed 16-byte
  // copies instead of a call to memcpy. The overshoot lands in the reserved
  // room (each event's reservation has output_padding to spare).
  [[gnu::always_inline]] void put_short(const char* d, std::size_t n) noexcept {
    static_assert(copy_slack >= 32);
    if (n <= 32) {
      std::memcpy(p_, d, 16);
      std::memcpy(p_ + 16, d + 16, 16);
      p_ += n;
    } else {
      put(d, n);
    }
  }
  void put_short(const text_bytes& t) noexcept { put_short(t.bytes.data(), t.n); }
  template <std::size_t N>
  void lit(const char (&s)[N]) noexcept {  // a literal: its length is known, so is the copy
    put(s, N - 1);
  }
  // JSON string content for raw bytes of the body (an object or array): at
  // most 6 bytes for each byte.
  void escaped(std::string_view v) noexcept;
  std::size_t pos() const noexcept { return static_cast<std::size_t>(p_ - s_->data()); }
  void rewind(std::size_t at) noexcept { p_ = s_->data() + at; }

 private:
  std::string* s_ = nullptr;
  char* p_ = nullptr;
};

inline constexpr std::size_t hash_hex_len = 32;  // 128 bits of SHA-256

}  // namespace detail

struct mapper::impl {
  using error_code = simdjson::error_code;
  using value_ref = detail::value_ref;
  using kind = detail::kind;

  options opts;
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;

  // Per request.
  const route* r = nullptr;
  std::string_view body;
  bool escapes = false;
  output* out = nullptr;
  error* err = nullptr;
  detail::writer w;
  enum class each_state : std::uint8_t { not_found, not_array, found } each = each_state::not_found;
  kind each_kind = kind::null;

  // Per element.
  std::vector<value_ref> slots;
  std::vector<std::uint8_t> seen;  // per trie node: the first member with a name wins
  std::int32_t index = 0;
  bool hashed = false;
  char hash_hex[detail::hash_hex_len];
  std::int64_t cached_day = INT64_MIN;  // unix times: the date of the last one, written once per day
  char cached_date[11] = {};             // "YYYY-MM-DDT"

  // mapper.cpp: the walk.
  bool run();
  error_code descend(simdjson::ondemand::value& v, std::size_t level, unsigned depth);
  error_code element(simdjson::ondemand::value& v, std::int32_t idx, unsigned depth);
  error_code visit(simdjson::ondemand::value& v, std::uint32_t node, unsigned depth);
  error_code member(simdjson::ondemand::value& v, std::int64_t child, unsigned depth);
  const char* container_end() noexcept;
  void begin_element(std::int32_t idx);
  bool fail(errc code, std::int32_t idx, std::string detail);
  bool fail_json(error_code code, bool located = true);

  // render.cpp: the event of the element just walked.
  bool emit();
  template <std::size_t N>
  bool attribute(const detail::text_template& t, const char (&head)[N]);
  bool time();
  int render_text(const detail::text_template& t);
  int render_data(std::uint32_t node);
  std::string_view hash();
};

}  // namespace tg::mapping
