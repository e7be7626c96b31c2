// SPDX-License-Identifier: Apache-2.0
// The refusal table: every refusal has a status, a label and a detail, and
// the answer it writes is what OpenMeter's clients expect.
#include <doctest/doctest.h>

#include <string>

#include "tollgate/server/refusal.hpp"

using namespace tg;
using namespace tg::server;

TEST_CASE("every refusal has a status, a metric label and a detail") {
  for (std::size_t i = 0; i < refusal_count; ++i) {
    const refusal_info& r = describe(static_cast<refusal>(i));
    CHECK(r.status >= 400);
    CHECK(r.status <= 599);
    CHECK_FALSE(r.label.empty());
    CHECK_FALSE(r.detail.empty());
  }
}

TEST_CASE("refusals keep OpenMeter's 400 for bad bodies and tollgate's own bounds") {
  CHECK(describe(refusal::unsupported_media_type).status == 400);  // not 415: what OpenMeter answers
  CHECK(describe(refusal::invalid_event).status == 400);
  CHECK(describe(refusal::too_many_events).status == 413);
  CHECK(describe(refusal::head_too_large).status == 431);
  CHECK(describe(refusal::version_unsupported).status == 505);
  CHECK(describe(refusal::buffer_full).status == 503);
  CHECK(describe(refusal::buffer_full_now).status == 429);
  CHECK(describe(refusal::ack_timeout).status == 504);
  CHECK(describe(refusal::header_timeout).label != describe(refusal::body_timeout).label);
  CHECK(describe(refusal::buffer_full).label == describe(refusal::buffer_full_now).label);
}

TEST_CASE("a back-pressure refusal says Retry-After and keeps the connection") {
  std::string out;
  write_refusal(out, refusal::buffer_full, http::connection::keep_alive);
  CHECK(out.rfind("HTTP/1.1 503 ", 0) == 0);
  CHECK(out.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(out.find("Connection: close") == std::string::npos);
  CHECK(out.find("application/problem+json") != std::string::npos);
  CHECK(out.find("the event buffer is full") != std::string::npos);
}

TEST_CASE("an HTTP-layer refusal closes the connection whatever the request asked") {
  std::string out;
  write_refusal(out, refusal::head_too_large, http::connection::keep_alive);
  CHECK(out.rfind("HTTP/1.1 431 ", 0) == 0);
  CHECK(out.find("Connection: close\r\n") != std::string::npos);
}

TEST_CASE("a 405 names what is allowed, and a caller's detail replaces the table's") {
  std::string out;
  write_refusal(out, refusal::post_only, http::connection::keep_alive, "method GET is not allowed on /x; use POST");
  CHECK(out.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(out.find("Allow: POST\r\n") != std::string::npos);
  CHECK(out.find("method GET is not allowed on /x; use POST") != std::string::npos);
}

TEST_CASE("protocol-core errors map to their refusals") {
  CHECK(from_parse_error(http::parse_errc::head_too_large) == refusal::head_too_large);
  CHECK(from_parse_error(http::parse_errc::body_too_large) == refusal::body_too_large);
  CHECK(from_parse_error(http::parse_errc::version_unsupported) == refusal::version_unsupported);
  CHECK(from_parse_error(http::parse_errc::malformed) == refusal::malformed_request);
  CHECK(from_validation_error(cloudevents::errc::too_many_events) == refusal::too_many_events);
  CHECK(from_validation_error(cloudevents::errc::malformed_json) == refusal::malformed_json);
  CHECK(from_validation_error(cloudevents::errc::empty_body) == refusal::empty_body);
}

TEST_CASE("issue 16: a request whose events the upstream refused gets 502 naming the upstream's answer") {
  CHECK(describe(refusal::upstream_refused).status == 502);
  CHECK_FALSE(describe(refusal::upstream_refused).retry_after);  // the same events would be refused again
  const std::string one = upstream_refused_detail(1, 400, "invalid event: subject is missing");
  CHECK(one == "the upstream refused 1 event of this request (400: invalid event: subject is missing); it was "
               "written to the dead-letter file and will not be retried");
  const std::string unknown = upstream_refused_detail(0, 0, "details were not kept");
  CHECK(unknown.find("refused events of this request (details were not kept)") != std::string::npos);
  CHECK(upstream_refused_detail(3, 422, "").find("3 events of this request (422); they were") != std::string::npos);
  std::string out;
  write_refusal(out, refusal::upstream_refused, http::connection::keep_alive, one);
  CHECK(out.rfind("HTTP/1.1 502 ", 0) == 0);
  CHECK(out.find("Connection: close") == std::string::npos);
  CHECK(out.find("(400: invalid event: subject is missing)") != std::string::npos);
}

TEST_CASE("pass-through failures answer 502 or 504 with a problem detail, and keep the connection") {
  CHECK(describe(refusal::upstream_unavailable).status == 502);
  CHECK(describe(refusal::upstream_bad_response).status == 502);
  CHECK(describe(refusal::upstream_timeout).status == 504);
  CHECK(describe(refusal::no_upstream_api).status == 404);
  CHECK(describe(refusal::proxy_body_too_large).status == 413);
  std::string out;
  write_refusal(out, refusal::upstream_unavailable, http::connection::keep_alive,
                "the upstream could not be reached (connect: Connection refused)");
  CHECK(out.rfind("HTTP/1.1 502 ", 0) == 0);
  CHECK(out.find("Content-Type: application/problem+json\r\n") != std::string::npos);
  CHECK(out.find("Connection refused") != std::string::npos);
  CHECK(out.find("Connection: close") == std::string::npos);
  out.clear();
  write_refusal(out, refusal::no_upstream_api, http::connection::keep_alive);
  CHECK(out.find("no upstream API") != std::string::npos);
}

TEST_CASE("a 401 says WWW-Authenticate: Bearer and keeps the connection; 415 names the codings") {
  std::string out;
  write_refusal(out, refusal::unauthorized, http::connection::keep_alive);
  CHECK(out.rfind("HTTP/1.1 401 ", 0) == 0);
  CHECK(out.find("WWW-Authenticate: Bearer\r\n") != std::string::npos);
  CHECK(out.find("Connection: close") == std::string::npos);
  CHECK(out.find("application/problem+json") != std::string::npos);
  CHECK(describe(refusal::unsupported_encoding).status == 415);
  CHECK(describe(refusal::corrupt_encoding).status == 400);
  CHECK(describe(refusal::inflated_too_large).status == 413);
  CHECK(describe(refusal::tls_required).closes);
}

TEST_CASE("the HTTP/2 preface is answered with frames, not an HTTP/1.1 status line") {
  CHECK(from_parse_error(http::parse_errc::h2_preface) == refusal::http2_preface);
  std::string out;
  write_refusal(out, refusal::http2_preface, http::connection::keep_alive);
  CHECK(out.rfind("HTTP/1.1", 0) == std::string::npos);
  CHECK(static_cast<unsigned char>(out[9 + 3]) == 0x7);  // GOAWAY after the empty SETTINGS
}
