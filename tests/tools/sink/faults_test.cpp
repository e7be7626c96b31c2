// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's faults: the POST /faults JSON (merge, bounds, all or
// nothing), its serialisation read back, and the per-request decision (runs
// before ratios, drops before failures, runs counting down).
#include <doctest/doctest.h>

#include <string>

#include "faults.hpp"

using namespace tg::sink;

TEST_CASE("faults JSON merges the fields given and keeps the others") {
  faults base;
  base.latency_ms = 50;
  auto r = merge_faults_json(R"({"status":429,"status_count":3,"retry_after":"2","reject_id_prefix":"poison-"})", base);
  REQUIRE(r.has_value());
  CHECK(r->latency_ms == 50);
  CHECK(r->status == 429);
  CHECK(r->status_count == 3);
  CHECK(r->retry_after == "2");
  CHECK(r->reject_id_prefix == "poison-");
  CHECK(r->drop_count == 0);
}

TEST_CASE("faults JSON takes ratios as integers or decimals, Retry-After as a number, null as off") {
  faults base;
  base.reject_id_prefix = "x";
  auto r = merge_faults_json(R"({"status_ratio":1,"drop_ratio":0.25,"retry_after":30,"reject_id_prefix":null})", base);
  REQUIRE(r.has_value());
  CHECK(r->status_ratio == 1.0);
  CHECK(r->drop_ratio == 0.25);
  CHECK(r->retry_after == "30");
  CHECK(r->reject_id_prefix.empty());
  auto none = merge_faults_json(R"({"retry_after":null})", base);
  REQUIRE(none.has_value());
  CHECK(none->retry_after.empty());
}

TEST_CASE("faults JSON takes the flags' names fail_status, fail_count, fail_ratio as aliases") {
  auto r = merge_faults_json(R"({"fail_status":429,"fail_count":2,"fail_ratio":0.5})", faults{});
  REQUIRE(r.has_value());
  CHECK(r->status == 429);
  CHECK(r->status_count == 2);
  CHECK(r->status_ratio == 0.5);
}

TEST_CASE("faults JSON is refused whole on a bad field") {
  faults base;
  for (const char* body : {R"({"status":503,"bogus":1})", R"({"status":99})", R"({"status":600})",
                           R"({"status_ratio":1.5})", R"({"drop_ratio":-0.1})", R"({"latency_ms":-1})",
                           R"({"latency_ms":"5"})", R"({"drop_count":1.5})", R"({"retry_after":"1\r\nX: y"})",
                           R"([1])", "", "{", R"({"status":503} x)", R"({"latency_ms":3600001})"}) {
    CAPTURE(body);
    auto r = merge_faults_json(body, base);
    CHECK_FALSE(r.has_value());
    if (!r.has_value()) CHECK(r.error().starts_with("faults:"));
  }
}

TEST_CASE("faults JSON names the unknown field") {
  auto r = merge_faults_json(R"({"latency":5})", faults{});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().find("\"latency\"") != std::string::npos);
}

TEST_CASE("faults serialise to JSON that reads back the same") {
  faults f;
  f.latency_ms = 100;
  f.status = 429;
  f.status_count = 7;
  f.status_ratio = 0.125;
  f.retry_after = "Wed, 21 Oct 2015 07:28:00 GMT";
  f.reject_id_prefix = "bad\"id";
  f.drop_count = 2;
  f.drop_ratio = 0.5;
  const std::string j = faults_json(f);
  CHECK(j == R"({"latency_ms":100,"status":429,"status_count":7,"status_ratio":0.125,)"
             R"("retry_after":"Wed, 21 Oct 2015 07:28:00 GMT","reject_id_prefix":"bad\"id","drop_count":2,"drop_ratio":0.5})");
  auto back = merge_faults_json(j, faults{});
  REQUIRE(back.has_value());
  CHECK(back->latency_ms == 100);
  CHECK(back->status == 429);
  CHECK(back->status_count == 7);
  CHECK(back->status_ratio == 0.125);
  CHECK(back->retry_after == f.retry_after);
  CHECK(back->reject_id_prefix == f.reject_id_prefix);
  CHECK(back->drop_count == 2);
  CHECK(back->drop_ratio == 0.5);
}

TEST_CASE("decide passes everything with no faults") {
  faults f;
  for (double u : {0.0, 0.5, 0.999}) CHECK(decide(f, u, u) == action::pass);
}

TEST_CASE("decide answers a run of N failures, then passes") {
  faults f;
  f.status_count = 3;
  CHECK(decide(f, 0, 0) == action::fail);
  CHECK(decide(f, 0, 0) == action::fail);
  CHECK(decide(f, 0, 0) == action::fail);
  CHECK(f.status_count == 0);
  CHECK(decide(f, 0, 0) == action::pass);
}

TEST_CASE("decide drops a run before failing, and takes runs before ratios") {
  faults f;
  f.drop_count = 1;
  f.status_count = 1;
  f.drop_ratio = 0.5;
  CHECK(decide(f, 0.9, 0.9) == action::drop);  // the drop run
  CHECK(f.status_count == 1);
  CHECK(decide(f, 0.1, 0.9) == action::drop);  // the drop ratio, run untouched
  CHECK(f.status_count == 1);
  CHECK(decide(f, 0.9, 0.9) == action::fail);  // the failure run
  CHECK(decide(f, 0.9, 0.9) == action::pass);
}

TEST_CASE("decide applies ratios to the draw") {
  faults f;
  f.status_ratio = 0.3;
  CHECK(decide(f, 0.9, 0.29) == action::fail);
  CHECK(decide(f, 0.9, 0.3) == action::pass);
  f.status_ratio = 1.0;
  CHECK(decide(f, 0.9, 0.999) == action::fail);
  f = faults{};
  f.drop_ratio = 1.0;
  CHECK(decide(f, 0.999, 0.0) == action::drop);
}

TEST_CASE("latency holds a request until its time has passed") {
  constexpr std::uint64_t ms = 1000000;  // nanoseconds
  faults f;
  CHECK_FALSE(still_delayed(f, 0, 5 * ms));  // no latency: never held
  CHECK_FALSE(still_delayed(f, 1000 * ms, 1000 * ms));
  f.latency_ms = 100;
  CHECK(still_delayed(f, 0, 5 * ms));  // the first try is always held back
  CHECK(still_delayed(f, 1000 * ms, 1000 * ms));
  CHECK(still_delayed(f, 1000 * ms, 1100 * ms - 1));
  CHECK_FALSE(still_delayed(f, 1000 * ms, 1100 * ms));
}

TEST_CASE("poisoned matches the id prefix only when one is set") {
  faults f;
  CHECK_FALSE(poisoned(f, "poison-1"));
  f.reject_id_prefix = "poison-";
  CHECK(poisoned(f, "poison-1"));
  CHECK(poisoned(f, "poison-"));
  CHECK_FALSE(poisoned(f, "x-poison-1"));
  CHECK_FALSE(poisoned(f, "poison"));
}
