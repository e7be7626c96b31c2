// SPDX-License-Identifier: Apache-2.0
// Dead-letter record formatting and the file it goes to.
#include "tollgate/output/http/dead_letter.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "tollgate/base/clock.hpp"
#include "tollgate/base/json_escape.hpp"

namespace tg::upstream {

void append_dead_letter(std::string& out, std::string_view event_json, int status, std::string_view upstream_detail,
                        const timespec& when) {
  char stamp[rfc3339_millis_len];
  format_rfc3339_millis(when, stamp);
  out.reserve(out.size() + event_json.size() + upstream_detail.size() + 80);
  out += "{\"time\":\"";
  out.append(stamp, rfc3339_millis_len);
  out += "\",\"status\":";
  out += std::to_string(status);
  out += ",\"detail\":\"";
  append_json_escaped(out, upstream_detail);
  out += "\",\"event\":";
  if (event_json.empty()) {
    out += "null";
  } else {
    std::size_t start = out.size();
    out += event_json;
    for (std::size_t i = start; i < out.size(); ++i) {
      if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
    }
  }
  out += "}\n";
}

dead_letter_file::dead_letter_file(const std::string& path) : path_(path) {
  // 0640: dead letters hold customers' usage data; not for every local user.
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open dead-letter file '" + path + "'");
}

dead_letter_file::~dead_letter_file() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tg::upstream
