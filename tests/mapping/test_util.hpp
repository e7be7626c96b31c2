// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the mapping tests: compile a routes file, map a body kept
// in a padded buffer (the padding filled with bytes that would break a parser
// reading past the end), and run the real validator over what came out.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tollgate/cloudevents/validator.hpp"
#include "tollgate/mapping/mapper.hpp"
#include "tollgate/mapping/routes.hpp"

namespace tg::mapping::test {

inline route_table compile(const std::string& json) {
  auto t = parse_routes(json);
  if (!t) FAIL("routes did not compile: " << t.error());
  return std::move(t).value();
}

// The error parse_routes gives, or "compiled".
inline std::string compile_error(const std::string& json) {
  auto t = parse_routes(json);
  return t ? std::string("compiled") : t.error();
}

// One route around an event template (JSON text of the "event" object).
inline std::string one_route(const std::string& event, const std::string& each = "",
                             const std::string& path = "/in") {
  std::string r = "{\"routes\":[{\"path\":\"" + path + "\"";
  if (!each.empty()) r += ",\"each\":\"" + each + "\"";
  return r + ",\"event\":" + event + "}]}";
}

// id/type/source/subject literals plus what the test adds.
inline std::string event_with(const std::string& more) {
  std::string e = R"({"id":"i","type":"t","source":"s","subject":"u")";
  if (!more.empty()) e += "," + more;
  return e + "}";
}

struct outcome {
  bool ok = false;
  output out;
  error err;
  std::vector<std::string> events;  // each event's JSON as the validator delimits it
  bool validated = false;
  std::string validator_detail;
  std::string json() const { return std::string(out.json()); }
};

inline outcome map_body(const route_table& table, const std::string& body, const std::string& path = "/in",
                        options opts = {}) {
  outcome o;
  const route* r = table.find(path);
  REQUIRE(r != nullptr);
  std::string buf = body;
  for (int i = 0; i < 16; ++i) buf += "}]\"x";
  mapper m(opts);
  o.ok = m.map(*r, std::string_view(buf.data(), body.size()), o.out, o.err);
  if (!o.ok) return o;
  // The output must be padded for simdjson, and pass the validator unchanged.
  REQUIRE(o.out.buf.size() >= o.out.json_size + output_padding);
  CHECK(o.out.buf.compare(o.out.json_size, output_padding, std::string(output_padding, ' ')) == 0);
  cloudevents::validator v;
  std::vector<cloudevents::event_ref> refs;
  cloudevents::error verr;
  o.validated = v.validate(o.out.json(), cloudevents::media_type::batch, cloudevents::api::v1, refs, verr);
  o.validator_detail = verr.detail;
  for (const auto& ev : refs) o.events.emplace_back(o.out.json().substr(ev.begin, ev.end - ev.begin));
  if (o.validated) REQUIRE(refs.size() == o.out.events);
  return o;
}

// Maps and requires success and validity; returns the events.
inline std::vector<std::string> mapped(const route_table& table, const std::string& body,
                                       const std::string& path = "/in") {
  outcome o = map_body(table, body, path);
  if (!o.ok) FAIL("mapping failed: " << o.err.detail);
  if (!o.validated) FAIL("validator refused " << o.json() << ": " << o.validator_detail);
  return o.events;
}

inline std::string mapped_one(const route_table& table, const std::string& body) {
  auto evs = mapped(table, body);
  REQUIRE(evs.size() == 1);
  return evs[0];
}

// The error detail of a mapping that must fail.
inline std::string map_error(const route_table& table, const std::string& body, options opts = {}) {
  outcome o = map_body(table, body, "/in", opts);
  if (o.ok) return "mapped: " + o.json();
  CHECK(o.out.events == 0);
  return o.err.detail;
}

}  // namespace tg::mapping::test
