// SPDX-License-Identifier: Apache-2.0
// What the HTTP output does with each upstream answer (the failure table).
#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

#include "tollgate/output/http/policy.hpp"

using namespace tg::upstream;

TEST_CASE("policy: 2xx delivers, 400 and 413 split a batch and dead-letter a single event") {
  CHECK(judge(200, 10) == verdict::delivered);
  CHECK(judge(204, 1) == verdict::delivered);
  CHECK(judge(202, 500) == verdict::delivered);
  CHECK(judge(400, 2) == verdict::split);
  CHECK(judge(413, 500) == verdict::split);
  CHECK(judge(400, 1) == verdict::dead_letter);
  CHECK(judge(413, 1) == verdict::dead_letter);
}

TEST_CASE("policy: a token the upstream refuses keeps the events") {
  CHECK(judge(401, 100) == verdict::auth);
  CHECK(judge(403, 1) == verdict::auth);
}

TEST_CASE("policy: 408, 429 and 5xx retry; other 4xx dead-letter; 1xx and 3xx retry") {
  for (int s : {408, 429, 500, 502, 503, 504, 599}) CHECK(judge(s, 10) == verdict::retry);
  for (int s : {404, 405, 409, 410, 422, 451}) CHECK(judge(s, 10) == verdict::dead_letter);
  CHECK(judge(100, 10) == verdict::retry);
  CHECK(judge(302, 10) == verdict::retry);
  CHECK(std::string(verdict_name(verdict::split)) == "split");
}
