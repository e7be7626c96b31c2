// SPDX-License-Identifier: Apache-2.0
// The mapping engine: one request body in, the CloudEvents its route makes out,
// as structured JSON (specversion 1.0) in a caller-owned buffer. Protocol core:
// no I/O, no clock (a missing `time` is left out, so the caller's stamping gives
// receipt time), no globals. A request is mapped whole or refused whole.
//
// The output is one JSON array (the events in element order) followed by
// simdjson's padding, so the caller hands it as it is to
// cloudevents::validator::validate(json(), media_type::batch, ...) and then
// stamps from it like any request body.
//
// One mapper per shard, used on that shard's thread: it owns a simdjson parser
// and reuses it, and the output buffer keeps its capacity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tollgate/mapping/routes.hpp"

namespace tg::mapping {

// simdjson reads up to 64 bytes past the end of its input (http::body_padding).
inline constexpr std::size_t output_padding = 64;

struct options {
  std::size_t max_events = 10000;          // mapped events per request (--max-events-per-request); past it: 413
  std::size_t max_output_bytes = 16u << 20;  // the mapped JSON of one request; past it: 413
};

enum class errc : std::uint8_t {
  none,
  empty_body,          // 400
  malformed_json,      // 400: the body is not one JSON value
  unmapped,            // 400: `each` is not an array, a required attribute points at nothing, a bad time
  binary_mode,         // 400: a ce-* header missing, empty, repeated or badly encoded; a non-JSON body
  too_many_events,     // 413: more than options::max_events
  output_too_large,    // 413: more than options::max_output_bytes of mapped JSON
};

struct error {
  errc code = errc::none;
  std::int32_t index = -1;  // element index, -1 when about the whole request
  std::string detail;       // e.g. "route /ingest/llm-usage: element 3: id: /request_id points at nothing"
};

// Where mapped events are written: json_size bytes of JSON, then at least
// output_padding spaces, so json() can be parsed in place. buf is storage: its
// size is kept between requests (it only grows), so mapping does not allocate
// once it has seen the largest request.
struct output {
  std::string buf;
  std::size_t json_size = 0;
  std::uint32_t events = 0;
  std::string_view json() const noexcept { return {buf.data(), json_size}; }
};

// The Content-Types a mapping route (and a binary-mode body) takes:
// application/json or any type with a +json suffix, case-insensitive,
// parameters such as "; charset=utf-8" ignored.
bool is_json_media_type(std::string_view content_type) noexcept;

class mapper {
 public:
  explicit mapper(const options& opts = {});
  ~mapper();
  mapper(const mapper&) = delete;
  mapper& operator=(const mapper&) = delete;

  // Maps `body` (followed by at least output_padding readable bytes) by route
  // `r` into `out`. True when the whole request mapped; otherwise false, `err`
  // set and `out` holds no events.
  bool map(const route& r, std::string_view body, output& out, error& err);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace tg::mapping
