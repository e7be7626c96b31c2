// SPDX-License-Identifier: Apache-2.0
// OpenMeter's Kafka message for one event: the one place tollgate re-encodes
// an event. A protocol core: bytes in, key / value / timestamp out; no I/O, no
// clock (the caller passes the ingestion time), no globals. The rules are
// OpenMeter's collector and serializer (docs/kafka.md, "Message format").
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/base/result.hpp"

namespace tg::kafka {

// An RFC 3339 time as Unix seconds (floored) and nanoseconds within the second.
struct event_time {
  std::int64_t seconds = 0;
  std::uint32_t nanos = 0;
  // Kafka message timestamps are milliseconds.
  std::int64_t millis() const noexcept { return seconds * 1000 + nanos / 1000000; }
};

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (the offset is
// applied, so the result is UTC); false on anything else.
bool parse_event_time(std::string_view text, event_time& out) noexcept;

// Go's time.RFC3339Nano of `t` in UTC ("2006-01-02T15:04:05.999999999Z":
// trailing zeros of the fraction dropped, and the dot with them when it is 0),
// which is how OpenMeter writes the ingested_at header. Returns the length.
inline constexpr std::size_t rfc3339_nano_max = 30;
std::size_t format_rfc3339_nano(const timespec& t, char (&out)[rfc3339_nano_max]) noexcept;

// Appends `text` as the body of a JSON string (no quotes), escaped as Go's
// encoding/json does: \" \\ \n \r \t, other control bytes as \u00XX, and
// <, >, &, U+2028, U+2029 as \u escapes.
void append_go_escaped(std::string& out, std::string_view text);

// Appends valid JSON text `json` with the white space between tokens removed
// (strings, escapes and numbers exactly as written), escaped for use inside a
// JSON string as append_go_escaped() would escape it.
void append_compact_escaped(std::string& out, std::string_view json);

enum class encode_error : std::uint8_t {
  not_an_object,    // not a JSON object
  missing_member,   // id, type, source, subject, specversion or time absent, or not a string
  bad_time,         // time is not RFC 3339
};
std::string_view describe(encode_error e) noexcept;

// One message. The views point into the encoder and stay valid until its
// next encode().
struct message {
  std::string_view key;          // <namespace>-<source>-<id>
  std::string_view value;        // {"id","type","source","subject","time","data"}
  std::string_view specversion;  // the specversion header
  std::int64_t timestamp_ms = 0; // the event's time
};

// Reusable per shard (it keeps its buffers and a simdjson parser).
class encoder {
 public:
  encoder();
  ~encoder();
  encoder(const encoder&) = delete;
  encoder& operator=(const encoder&) = delete;

  // `event_json`: one validated CloudEvents event as the ring holds it.
  result<message, encode_error> encode(std::string_view event_json, std::string_view ns);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::kafka
