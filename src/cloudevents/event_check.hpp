// SPDX-License-Identifier: Apache-2.0
// One event object, checked attribute by attribute (INGEST_API.md §2). Kept
// apart from the body-level logic in validator.cpp so the per-attribute rules
// read in one place. Lives inside a validator, so on its shard's thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/cloudevents/validator.hpp"

namespace tg::cloudevents::detail {

namespace sj = simdjson::ondemand;

// Checks that `v` is valid JSON all the way down (On-Demand skips what it is
// not asked for). Containers deeper than max_depth are refused. `escapes`:
// whether the body holds a backslash at all; without one no string can hold a
// bad escape, so the per-string escape checks are skipped (see validator.cpp).
inline constexpr unsigned max_depth = 256;
simdjson::error_code walk(sj::value& v, unsigned depth, bool escapes) noexcept;

// A scalar token (trimmed): a string with valid escapes, a literal or a number.
simdjson::error_code check_scalar(std::string_view tok, bool escapes) noexcept;

class event_check {
 public:
  api version = api::v1;
  const char* base = nullptr;  // the body, for offsets
  bool escapes = true;         // the body holds a backslash (walk())

  // Walks one event object; fills ev.fix / ev.at (ev.begin must be set). A
  // JSON error is returned; a rule broken is recorded (failed(), describe()).
  simdjson::error_code scan(sj::object& obj, event_ref& ev);

  void reset() noexcept;
  bool failed() const noexcept {  // inline: asked once per event
    for (auto p : req_) {
      if (p != problem::ok) return true;
    }
    return other_;
  }
  // Appends the first problem: required attributes in a fixed order (id,
  // source, specversion, type, subject), then the first other problem met.
  void describe(std::string& out) const;
  void set_problem(std::string_view a, std::string_view b = {}, std::string_view c = {});

 private:
  enum class problem : std::uint8_t { missing, ok, not_string, empty, null, bad_value };
  static constexpr unsigned required_count = 5;

  simdjson::error_code required(unsigned i, sj::value& v, std::string_view tok);
  simdjson::error_code optional(unsigned a, sj::value& v, std::string_view tok, event_ref& ev);
  simdjson::error_code extension(std::string_view name, sj::value& v, std::string_view tok);

  problem req_[required_count] = {};
  std::string_view bad_[required_count];
  std::uint16_t seen_ = 0;
  bool other_ = false;
  std::string other_msg_;  // reused: allocates only on the first rejection
};

}  // namespace tg::cloudevents::detail
