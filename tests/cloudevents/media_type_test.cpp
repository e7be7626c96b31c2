// SPDX-License-Identifier: Apache-2.0
// Content-Type classification (INGEST_API.md §1.3, §8 C1-C5) with tollgate's
// deliberate differences: case-insensitive, parameters ignored.
#include <doctest/doctest.h>

#include "test_util.hpp"

using namespace tg::cloudevents;

TEST_CASE("classify recognises the three accepted media types") {
  CHECK(classify("application/cloudevents+json") == media_type::single);
  CHECK(classify("application/cloudevents-batch+json") == media_type::batch);
  CHECK(classify("application/json") == media_type::json);
}

TEST_CASE("classify ignores case, parameters and surrounding white space") {
  CHECK(classify("application/json; charset=utf-8") == media_type::json);                     // C1
  CHECK(classify("application/cloudevents+json; charset=utf-8") == media_type::single);      // C2
  CHECK(classify("Application/JSON") == media_type::json);                                    // C3
  CHECK(classify("  APPLICATION/CLOUDEVENTS-BATCH+JSON  ") == media_type::batch);
  CHECK(classify("application/json ;charset=UTF-8") == media_type::json);
  CHECK(classify("\tapplication/json;") == media_type::json);
}

TEST_CASE("classify calls anything else unsupported") {
  CHECK(classify("text/plain") == media_type::unsupported);  // C4
  CHECK(classify("") == media_type::unsupported);            // C5
  CHECK(classify("   ") == media_type::unsupported);
  CHECK(classify("application/x-ndjson") == media_type::unsupported);
  CHECK(classify("application/jsonx") == media_type::unsupported);
  CHECK(classify("application/cloudevents") == media_type::unsupported);
  CHECK(classify("application/ json") == media_type::unsupported);
  CHECK(classify("; application/json") == media_type::unsupported);
}

TEST_CASE("media_type_error quotes the header and lists the accepted types") {
  error e = media_type_error("text/plain");
  CHECK(e.code == errc::unsupported_media_type);
  CHECK(e.index == -1);
  CHECK(e.detail ==
        "unsupported Content-Type \"text/plain\": use application/cloudevents+json, "
        "application/cloudevents-batch+json or application/json");
}

TEST_CASE("media_type_error says a missing Content-Type is missing") {
  error e = media_type_error("");
  CHECK(e.code == errc::unsupported_media_type);
  CHECK(e.detail.starts_with("Content-Type is missing"));
  CHECK(e.detail.find("application/cloudevents-batch+json") != std::string::npos);
}

TEST_CASE("media_type_error does not echo an endless header") {
  error e = media_type_error(std::string(10000, 'a'));
  CHECK(e.detail.size() < 400);
}

TEST_CASE("validator refuses a body whose media type is unsupported") {
  auto r = test::run(test::E().str(), media_type::unsupported);
  CHECK_FALSE(r.ok);
  CHECK(r.err.code == errc::unsupported_media_type);
  CHECK(r.err.detail.find("application/json") != std::string::npos);
}
