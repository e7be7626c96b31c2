// SPDX-License-Identifier: Apache-2.0
// The command line: every flag, its environment variable and its default, in
// one table that also writes --help. The one place options structs are filled.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

#include "tollgate/base/log.hpp"
#include "tollgate/output/jsonl/writer.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/output/http/forwarder.hpp"
#include "tollgate/output/kafka/options.hpp"

namespace tg::config {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct config {
  server::options server;
  output::jsonl_options output;
  std::string upstream;          // as given: "", "stdout", "file:PATH", "http(s)://…", "kafka://…"
  std::string upstream_token;    // never logged
  std::string upstream_token_file;  // --upstream-token-file, re-read on SIGHUP; empty: none
  upstream::options forward;     // used when upstream is http(s)://
  kafka::options kafka;          // used when upstream is kafka://
  log::level log_level = log::level::info;
  bool upstream_defaulted = false;  // no --upstream and no OPENMETER_URL: stdout
  bool proxy_body_set = false;      // --proxy-max-body-bytes given (else it follows --max-body-bytes down)
  bool help = false;
  bool version = false;
};

// Reads flags from argv, then fills what they left unset from the environment
// (getenv is called with each flag's variable name), then defaults. Throws
// usage_error with a message naming the flag.
config parse(int argc, const char* const* argv, const std::function<const char*(const char*)>& getenv);

std::string help_text();

// The bearer token in `path` (trailing newline ignored); throws usage_error
// when unreadable or empty. Used at start and on SIGHUP.
std::string read_token_file(const std::string& path);

}  // namespace tg::config
