// SPDX-License-Identifier: Apache-2.0
// Mapping routes (--mappings FILE): which request paths take arbitrary JSON and
// how each body becomes CloudEvents. parse_routes() compiles the file once (at
// start and on SIGHUP); the compiled table is immutable, so one copy is shared
// by every shard. Protocol core: no I/O (the caller reads the file).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/result.hpp"

namespace tg::mapping {

// Bounds on what a routes file may ask for; past one, parse_routes() fails.
struct route_limits {
  std::size_t max_file_bytes = 1u << 20;     // the routes file itself
  std::size_t max_routes = 1024;
  std::size_t max_placeholders = 256;        // distinct pointers in one route
  std::size_t max_pointer_tokens = 32;       // reference tokens in one pointer
  std::size_t max_data_depth = 32;           // nesting of the `data` template
  std::size_t max_data_nodes = 4096;         // members and items of the `data` template, all levels
};

enum class time_format : std::uint8_t {
  rfc3339,  // a string as it is (checked by the validator)
  unix_s,   // seconds since 1970-01-01T00:00:00Z, decimal, fractions kept to the millisecond
  unix_ms,  // milliseconds since then, decimal
};

struct route;  // compiled; defined inside src/mapping

// The routes of one file, looked up by exact request path. Cheap to copy
// (shared, immutable): a reload builds a new table and hands it to the shards.
class route_table {
 public:
  route_table() = default;

  // The route for `path` (exact match, no query string), or nullptr.
  const route* find(std::string_view path) const noexcept;
  std::size_t size() const noexcept;
  std::vector<std::string_view> paths() const;  // sorted

 private:
  friend result<route_table, std::string> parse_routes(std::string_view, const route_limits&);
  struct impl;
  std::shared_ptr<const impl> impl_;
};

// The route's path, as written in the file.
std::string_view path_of(const route& r) noexcept;

// Compiles a routes file. The error names the route (its path, or routes[i]
// when it has none) and the field, e.g.
// "route /ingest/llm-usage: event.time_format: must be rfc3339, unix_s or unix_ms, got \"iso\"".
result<route_table, std::string> parse_routes(std::string_view json, const route_limits& limits = {});

}  // namespace tg::mapping
