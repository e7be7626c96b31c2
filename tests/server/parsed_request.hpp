// SPDX-License-Identifier: Apache-2.0
// The server tests' input: a request parsed by the real parser (which stays
// alive with it, since the request's views point into it), and a small event.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tollgate/http/request_parser.hpp"

namespace tg::server::test {

inline const std::string event_body =
    R"({"specversion":"1.0","id":"e1","source":"s","type":"t","subject":"c","time":"2026-01-01T00:00:00Z"})";

struct parsed_request {
  http::request_parser parser;
  explicit parsed_request(const std::string& raw) {
    auto r = parser.feed({raw.data(), raw.size()});
    if (r.ev == http::event::head_complete) r = parser.feed({raw.data() + r.consumed, raw.size() - r.consumed});
    REQUIRE(r.ev == http::event::message_complete);
  }
  const http::request& get() const { return parser.current(); }
};

}  // namespace tg::server::test
