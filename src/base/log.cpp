// SPDX-License-Identifier: Apache-2.0
// JSON-lines logger. Each line is assembled in a thread-local buffer and written
// with a single write(2), which POSIX keeps whole for pipes up to PIPE_BUF and
// which in practice never interleaves on files opened O_APPEND or terminals.
#include "tollgate/base/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/json_escape.hpp"

namespace tg::log {
namespace {
std::atomic<level> g_level{level::info};

const char* name(level l) {
  switch (l) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    case level::off: return "off";
  }
  return "info";
}
}  // namespace

bool parse_level(std::string_view text, level& out) {
  for (level l : {level::debug, level::info, level::warn, level::error, level::off}) {
    if (text == name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_level(level l) { g_level.store(l, std::memory_order_relaxed); }

bool enabled(level l) { return l != level::off && l >= g_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view msg, std::initializer_list<field> fields) {
  if (!enabled(l)) return;
  thread_local std::string line;
  line.clear();
  char ts[rfc3339_millis_len];
  format_rfc3339_millis(wall_now(), ts);
  line += "{\"ts\":\"";
  line.append(ts, sizeof ts);
  line += "\",\"level\":\"";
  line += name(l);
  line += "\",\"msg\":\"";
  append_json_escaped(line, msg);
  line += '"';
  for (const field& f : fields) {
    line += ",\"";
    append_json_escaped(line, f.key);
    line += "\":";
    if (f.is_number) {
      line += std::to_string(f.number);
    } else if (f.is_bool) {
      line += f.text;
    } else {
      line += '"';
      append_json_escaped(line, f.text);
      line += '"';
    }
  }
  line += "}\n";
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) return;  // nowhere to report a failing stderr
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace tg::log
