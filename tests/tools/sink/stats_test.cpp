// SPDX-License-Identifier: Apache-2.0
// tollgate-sink's counters: distinct ids and duplicates keyed on (source, id),
// the /stats JSON, /reset, and the --record line flattening.
#include <doctest/doctest.h>

#include <simdjson.h>

#include <string>
#include <vector>

#include "record.hpp"
#include "stats.hpp"

using namespace tg::sink;

TEST_CASE("stats count distinct (source, id) keys and duplicates") {
  stats s;
  s.accept({id_key("a", "1"), id_key("a", "2"), id_key("b", "1")}, 1000);
  s.accept({id_key("a", "1")}, 2000);
  s.accept({}, 3000);  // an empty batch: a request, no events
  const std::string j = s.json();
  CHECK(j.find("\"accepted_requests\":3") != std::string::npos);
  CHECK(j.find("\"events\":4") != std::string::npos);
  CHECK(j.find("\"distinct\":3") != std::string::npos);
  CHECK(j.find("\"duplicates\":1") != std::string::npos);
  CHECK(j.find("\"first_event_at\":1000") != std::string::npos);
  CHECK(j.find("\"last_event_at\":2000") != std::string::npos);
}

TEST_CASE("the key separates source from id") { CHECK(id_key("ab", "c") != id_key("a", "bc")); }

TEST_CASE("stats JSON is valid JSON with every field, and reset zeroes it") {
  stats s;
  s.requests = 5;
  s.fault_dropped = 1;
  s.accept({id_key("a", "1")}, 7);
  s.reset();
  const std::string j = s.json();
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  REQUIRE(p.parse(j).get(doc) == simdjson::SUCCESS);
  for (const char* k : {"requests", "accepted_requests", "events", "distinct", "duplicates", "rejected_requests",
                        "unauthorized"}) {
    CAPTURE(k);
    CHECK(doc[k].get_uint64().value() == 0);
  }
  CHECK(doc["faults_injected"]["dropped"].get_uint64().value() == 0);
  CHECK(doc["faults_injected"]["status"].get_uint64().value() == 0);
  CHECK(doc["faults_injected"]["poison"].get_uint64().value() == 0);
  CHECK(doc["first_event_at"].is_null());
  CHECK(doc["last_event_at"].is_null());
}

TEST_CASE("recorded events are flattened to one line each") {
  std::string out;
  recorder::flatten(out, "{\r\n\"id\":\"1\"\n}");
  recorder::flatten(out, "{\"id\":\"2\"}");
  CHECK(out == "{  \"id\":\"1\" }\n{\"id\":\"2\"}\n");
}
