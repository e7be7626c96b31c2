// SPDX-License-Identifier: Apache-2.0
// CloudEvents validation, OpenMeter's rules (shared/openmeter/INGEST_API.md §1.3,
// §2) with tollgate's deliberate differences (shared/DESIGN.md). Protocol core:
// takes a body and gives event positions or one precise error; no I/O, no clock.
//
// The body is never re-encoded: on success the caller gets, for each event in
// request order, the byte range of the event object in the body, and where its
// `time` must be stamped (absent: insert after the opening brace; null: replace
// the null token). stamp() writes the stamped bytes.
//
// One validator per shard: it owns a simdjson parser and reuses its buffers, so
// validation allocates nothing in the steady state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/clock.hpp"

namespace tg::cloudevents {

enum class media_type : std::uint8_t {
  single,       // application/cloudevents+json: one object
  batch,        // application/cloudevents-batch+json: an array ([] accepted)
  json,         // application/json: an object, else an array (not empty)
  unsupported,  // anything else, or no Content-Type at all
};

// Case-insensitive; parameters such as "; charset=utf-8" are ignored; optional
// whitespace around the type is ignored.
media_type classify(std::string_view content_type) noexcept;

enum class api : std::uint8_t {
  v1,  // POST /api/v1/events: extension attributes allowed (alphanumeric names)
  v3,  // POST /api/v3/openmeter/events: extension attributes rejected
};

enum class time_fix : std::uint8_t {
  none,          // `time` present and valid: bytes are kept as they are
  insert,        // `time` absent: insert "time":"<now>", after the '{' at `at`
  replace_null,  // `time` is null: replace the 4 bytes "null" at `at` with "<now>"
};

struct event_ref {
  std::uint32_t begin = 0;  // offset of '{' in the body
  std::uint32_t end = 0;    // one past the matching '}'
  time_fix fix = time_fix::none;
  std::uint32_t at = 0;     // body offset the fix applies at (see time_fix)
};

enum class errc : std::uint8_t {
  none,
  unsupported_media_type,  // 400: detail lists the three accepted types
  empty_body,              // 400
  malformed_json,          // 400: not JSON, or bytes after the value
  wrong_shape,             // 400: object where an array is needed, or the reverse; []/null under application/json
  invalid_event,           // 400: detail names the event index and attribute
  too_many_events,         // 413: more than options::max_events
};

struct error {
  errc code = errc::none;
  std::int32_t index = -1;  // event index in the request, -1 when about the whole body
  std::string detail;       // e.g. "invalid event at index 3: subject is missing"
};

// The error for a Content-Type that classify() calls unsupported: the detail
// quotes the header (or says it is missing, when empty) and lists the three
// accepted types.
error media_type_error(std::string_view content_type);

struct options {
  std::size_t max_events = 10000;  // events in one request; past it: too_many_events
  // Accept common bodies by the fast path (src/cloudevents/fast_path.hpp);
  // false sends every body through the general walk. The outcome is the same
  // either way: tests compare the two.
  bool fast_path = true;
};

class validator {
 public:
  explicit validator(const options& opts = {});
  ~validator();
  validator(const validator&) = delete;
  validator& operator=(const validator&) = delete;

  // `body` must be followed by at least 64 readable bytes (simdjson padding;
  // http::body_padding). `events` is cleared and filled in request order.
  // Returns true when the whole request is accepted; otherwise false and `err`
  // set (the request is rejected whole).
  bool validate(std::string_view body, media_type type, api version, std::vector<event_ref>& events,
                error& err);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Bytes the stamped event takes (the event's own size plus the fix), for a
// `now` of now_len bytes (format_rfc3339_millis writes 24).
std::size_t stamped_size(const event_ref& ev, std::size_t now_len = rfc3339_millis_len) noexcept;

// Writes event `ev` of `body` to `out` (stamped_size(ev) bytes), with `now` (an
// RFC 3339 UTC time with milliseconds, e.g. "2026-11-27T09:10:08.123Z", no
// quotes) stamped per ev.fix. Returns bytes written.
std::size_t stamp(std::string_view body, const event_ref& ev, std::string_view now, char* out) noexcept;

}  // namespace tg::cloudevents
