// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the cloudevents tests: run the validator over a body kept
// in a buffer with simdjson's padding (filled with bytes that would break a
// parser that read past the end), and build variants of INGEST_API.md §8's E.
#pragma once

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"

namespace tg::cloudevents::test {

struct outcome {
  bool ok = false;
  std::vector<event_ref> events;
  error err;
  std::string buf;        // body followed by 64 bytes of padding
  std::string_view body;  // the body itself
};

// The padding: by default bytes that would break a parser that read past the
// end; the server pads with zeros (zero_padding).
inline constexpr std::string_view hostile_padding = "}]\"x";
inline constexpr std::string_view zero_padding{"\0", 1};

// Every case also holds the fast path to the general walk: the outcome, down
// to the last byte of the detail, must not depend on which ran. (Out of line:
// inlined into every caller it set off a false -Wrestrict in GCC 12.)
[[gnu::noinline]] inline void same_as_other_path(const outcome& r, media_type type, api version, options opts) {
  opts.fast_path = !opts.fast_path;
  validator g(opts);
  std::vector<event_ref> events;
  error err;
  const bool ok = g.validate(r.body, type, version, events, err);
  CHECK_MESSAGE(ok == r.ok, "fast path and general walk disagree on: ", r.body);
  CHECK(events.size() == r.events.size());
  for (std::size_t i = 0; i < events.size() && i < r.events.size(); ++i) {
    CHECK(events[i].begin == r.events[i].begin);
    CHECK(events[i].end == r.events[i].end);
    CHECK(events[i].fix == r.events[i].fix);
    CHECK(events[i].at == r.events[i].at);
  }
  CHECK(err.code == r.err.code);
  CHECK(err.index == r.err.index);
  CHECK(err.detail == r.err.detail);
}

inline outcome run(std::string_view body, media_type type = media_type::single, api version = api::v1,
                   options opts = {}, std::string_view padding = hostile_padding) {
  outcome r;
  r.buf.assign(body);
  while (r.buf.size() < body.size() + 64) r.buf.append(padding);
  r.body = std::string_view(r.buf.data(), body.size());
  validator v(opts);
  r.ok = v.validate(r.body, type, version, r.events, r.err);
  same_as_other_path(r, type, version, opts);
  return r;
}

inline std::string slice(const outcome& r, const event_ref& ev) {
  return std::string(r.body.substr(ev.begin, ev.end - ev.begin));
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// INGEST_API.md §8's E, as ordered (key, raw JSON value) pairs.
class event_builder {
 public:
  event_builder()
      : kv_{{"specversion", "\"1.0\""},  {"id", "\"evt-1\""},
            {"source", "\"svc\""},        {"type", "\"api-calls\""},
            {"subject", "\"customer-1\""}, {"time", "\"2023-01-01T00:00:00.001Z\""},
            {"data", "{\"duration_ms\":\"12\"}"}} {}

  event_builder& set(const std::string& key, const std::string& raw) {
    for (auto& [k, v] : kv_) {
      if (k == key) {
        v = raw;
        return *this;
      }
    }
    kv_.emplace_back(key, raw);
    return *this;
  }
  event_builder& drop(const std::string& key) {
    std::erase_if(kv_, [&](const auto& p) { return p.first == key; });
    return *this;
  }
  std::string str() const {
    std::string out = "{";
    for (const auto& [k, v] : kv_) {
      if (out.size() > 1) out += ',';
      out += '"' + k + "\":" + v;
    }
    return out + "}";
  }

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

inline event_builder E() { return {}; }

// The detail the validator gives for a single-object body with one problem.
inline std::string rejection(const std::string& body, api version = api::v1) {
  auto r = run(body, media_type::single, version);
  return r.ok ? std::string("accepted") : r.err.detail;
}

}  // namespace tg::cloudevents::test
