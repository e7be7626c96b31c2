// SPDX-License-Identifier: Apache-2.0
// The steady-state promise: once warmed up, validating a request allocates
// nothing. Counts calls to the global operator new around a validation.
#include <doctest/doctest.h>

#include "../support/counting_new.hpp"
#include "test_util.hpp"

using tg::test::allocations;
using namespace tg::cloudevents;

TEST_CASE("validator allocates nothing in the steady state") {
  std::string body = "[";
  for (int i = 0; i < 100; ++i) {
    if (i) body += ",";
    body += test::E().set("id", "\"id" + std::to_string(i) + "\"").drop(i % 2 ? "time" : "x").str();
  }
  body += "]";
  std::string buf = body + std::string(64, ' ');
  std::string_view view(buf.data(), body.size());
  validator v;
  std::vector<event_ref> events;
  error err;
  REQUIRE(v.validate(view, media_type::batch, api::v1, events, err));  // warm-up: buffers grow here
  std::size_t before = allocations;
  bool ok = true;
  for (int i = 0; i < 10; ++i) ok = ok && v.validate(view, media_type::batch, api::v1, events, err);
  std::size_t during = allocations - before;
  CHECK(ok);
  CHECK(events.size() == 100);
  CHECK(during == 0);
  // The counter does count: a rejection writes its detail, which allocates.
  std::string bad = "[{}]" + std::string(64, ' ');
  before = allocations;
  CHECK_FALSE(v.validate(std::string_view(bad.data(), 4), media_type::batch, api::v1, events, err));
  CHECK(allocations > before);
}
