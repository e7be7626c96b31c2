// SPDX-License-Identifier: Apache-2.0
// The rest of OpenMeter's API, as far as a test needs it: every request under
// /api/ that is not ingest gets a canned JSON answer (canned_answer()), and
// the recorder keeps what came (method, target, Authorization, every header,
// body), so a test of tollgate's pass-through can see exactly what reached
// the upstream (GET /api-calls; DELETE /api-calls forgets). Shared by every
// shard: one mutex; bounded to the last `max_calls` calls.
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tollgate/http/request_parser.hpp"

namespace tg::sink {

struct api_call {
  std::string method;
  std::string target;         // path and query, as received
  std::string authorization;  // "" when none
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;           // cut at max_body_bytes
};

class api_recorder {
 public:
  static constexpr std::size_t max_calls = 1000;
  static constexpr std::size_t max_body_bytes = 64 * 1024;

  void record(const http::request& req);
  // The GET /api-calls body: a JSON array of {method, target, authorization, headers:[[k,v]...], body}.
  std::string json();
  void clear();
  std::size_t size();

 private:
  std::mutex m_;
  std::deque<api_call> calls_;  // guarded by m_
};

// A canned answer: status, Content-Type and body, or a chunked body of
// `chunked_bytes` (for tests of re-framing and streaming).
struct canned {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::size_t chunked_bytes = 0;  // > 0: answer with Transfer-Encoding: chunked, this many bytes
};

// What the sink answers on the rest of /api/:
//   GET  /api/v1/meters                   a ~2 KiB JSON array of meters
//   GET|POST /api/v1/meters/{slug}/query  a meter query result
//   GET  /api/v1/meters/missing           404 problem+json (an upstream error to pass through)
//   GET  /api/v1/events                   a list of one ingested event
//   POST /api/v1/portal/tokens            201 with a portal token
//   GET  /api/test/bytes/{n}              n bytes of JSON (a string), Content-Length
//   GET  /api/test/chunked/{n}            the same, chunked
//   anything else                         200 {"method":…,"path":…}
canned canned_answer(std::string_view method, std::string_view path);

}  // namespace tg::sink
