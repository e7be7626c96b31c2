// SPDX-License-Identifier: Apache-2.0
// Structured logs: one JSON object per line on stderr,
// {"ts":"…","level":"info","msg":"…", fields…}. Safe from any thread; a line is
// written with one write(2) so lines from different shards never interleave.
// Not for the per-request hot path: log events, not requests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace tg::log {

enum class level : std::uint8_t { debug, info, warn, error, off };

// Parses "debug" / "info" / "warn" / "error" / "off"; false when unknown.
bool parse_level(std::string_view text, level& out);
void set_level(level l);
bool enabled(level l);

// One key/value pair of a log line. Numbers are written bare, text quoted.
struct field {
  field(std::string_view k, std::string_view v) : key(k), text(v) {}
  field(std::string_view k, const char* v) : key(k), text(v) {}
  field(std::string_view k, const std::string& v) : key(k), text(v) {}
  field(std::string_view k, long long v) : key(k), number(v), is_number(true) {}
  field(std::string_view k, unsigned long long v) : key(k), number(static_cast<long long>(v)), is_number(true) {}
  field(std::string_view k, int v) : key(k), number(v), is_number(true) {}
  field(std::string_view k, unsigned v) : key(k), number(v), is_number(true) {}
  field(std::string_view k, long v) : key(k), number(v), is_number(true) {}
  field(std::string_view k, unsigned long v) : key(k), number(static_cast<long long>(v)), is_number(true) {}
  field(std::string_view k, bool v) : key(k), text(v ? "true" : "false"), is_bool(true) {}

  std::string_view key;
  std::string_view text;
  long long number = 0;
  bool is_number = false;
  bool is_bool = false;
};

void write(level l, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view m, std::initializer_list<field> f = {}) { write(level::debug, m, f); }
inline void info(std::string_view m, std::initializer_list<field> f = {}) { write(level::info, m, f); }
inline void warn(std::string_view m, std::initializer_list<field> f = {}) { write(level::warn, m, f); }
inline void error(std::string_view m, std::initializer_list<field> f = {}) { write(level::error, m, f); }

}  // namespace tg::log
