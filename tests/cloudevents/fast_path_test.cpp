// SPDX-License-Identifier: Apache-2.0
// The fast paths against the general code they shortcut: the body fast path
// (fast_path.hpp) against the On-Demand walk, the SDKs' RFC 3339 form against
// the general time check, the plain-name source against the full URI check. A
// fast path may decline anything; whatever it accepts, the general code must.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fast_path.hpp"
#include "rfc3339.hpp"
#include "test_util.hpp"
#include "uri_ref.hpp"

using namespace tg::cloudevents;
using test::E;

namespace {

std::string batch(const std::vector<std::string>& events) {
  std::string b = "[";
  for (std::size_t i = 0; i < events.size(); ++i) b += (i ? "," : "") + events[i];
  return b + "]";
}

std::string padded(std::string_view body) { return std::string(body) + std::string(64, '}'); }

// The fast path alone; true when it accepted, with the events it gave.
bool fast(std::string_view body, media_type t, std::vector<event_ref>& events, api version = api::v1) {
  static detail::fast_path f;  // reused, as a shard reuses its validator
  const std::string buf = padded(body);
  events.clear();
  return f.run(std::string_view(buf.data(), body.size()), t, version, 10000, events);
}

// The general walk alone.
bool general(std::string_view body, media_type t, std::vector<event_ref>& events, api version = api::v1) {
  options opts;
  opts.fast_path = false;
  validator v(opts);
  const std::string buf = padded(body);
  error err;
  return v.validate(std::string_view(buf.data(), body.size()), t, version, events, err);
}

}  // namespace

TEST_CASE("the fast path accepts the SDKs' bodies and finds the general walk's events") {
  std::vector<std::string> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(E().set("id", "\"e" + std::to_string(i) + "\"").drop(i % 3 ? "x" : "time").str());
  }
  const std::vector<std::pair<std::string, media_type>> bodies = {
      {E().str(), media_type::single},
      {E().str(), media_type::json},
      {batch(events), media_type::batch},
      {batch(events), media_type::json},
      {E().set("time", "null").set("datacontenttype", "null").set("dataschema", "null").set("data", "null").str(),
       media_type::single},
      {E().set("datacontenttype", "\"application/json\"").set("dataschema", "\"https://x/y\"").str(),
       media_type::single},
      {E().set("ext", "\"v\"").set("b", "false").set("t", "true").set("n", "null").set("i", "-2147483648")
           .set("j", "2147483647").set("z", "0").set("m", "-0").str(),
       media_type::single},
      {E().set("data", R"({"a":[],"b":{},"c":[[[{"d":[1,-2.5e+3,0.0,1E9,true,false,null,"x"]}]]]})").str(),
       media_type::single},
      {E().set("source", "\"https://user@host.example:8080/a?b#c\"").str(), media_type::single},
      {" \n\t[ " + E().str() + " ,\r\n " + E().drop("time").str() + " ] \n", media_type::batch},
      {"{ \"id\" : \"1\" , \"source\" : \"s\" , \"specversion\" : \"0.3\" , \"type\" : \"t\" , \"subject\" : \"u\" ,"
       " \"time\" : null , \"data\" : { \"k\" : [ 1 , \"v\" ] } }  ",
       media_type::single},
  };
  for (const auto& [body, t] : bodies) {
    CAPTURE(body);
    std::vector<event_ref> f, g;
    REQUIRE(general(body, t, g));
    REQUIRE(fast(body, t, f));
    REQUIRE(f.size() == g.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
      CHECK(f[i].begin == g[i].begin);
      CHECK(f[i].end == g[i].end);
      CHECK(f[i].fix == g[i].fix);
      CHECK(f[i].at == g[i].at);
    }
  }
}

TEST_CASE("the fast path leaves every rejection, and what it does not know, to the general walk") {
  const std::vector<std::pair<std::string, media_type>> bodies = {
      {E().drop("id").str(), media_type::single},
      {E().set("id", "\"\"").str(), media_type::single},
      {E().set("id", "1").str(), media_type::single},
      {E().set("subject", "null").str(), media_type::single},
      {E().set("source", "\"\"").str(), media_type::single},
      {E().set("source", "\":bad\"").str(), media_type::single},
      {E().set("specversion", "\"2.0\"").str(), media_type::single},
      {E().set("time", "\"2023-02-29T00:00:00.000Z\"").str(), media_type::single},
      {E().set("time", "1").str(), media_type::single},
      {E().set("datacontenttype", "\"text/plain\"").str(), media_type::single},
      {E().set("dataschema", "\"\"").str(), media_type::single},
      {E().set("data", "[1]").str(), media_type::single},
      {E().set("data", "\"x\"").str(), media_type::single},
      {E().set("data_base64", "\"eA==\"").str(), media_type::single},
      {E().set("ext", "\"v\"").str(), media_type::single},  // under v3 below
      {E().set("bad-name", "1").str(), media_type::single},
      {E().set("ext", "1.5").str(), media_type::single},
      {E().set("ext", "2147483648").str(), media_type::single},
      {E().set("ext", "1.0").str(), media_type::single},  // accepted, by the general walk
      {E().set("ext", "{}").str(), media_type::single},
      {E().set("ext", "01").str(), media_type::single},
      {E().set("subject", "\"t\":1").str(), media_type::single},  // issue 16
      {E().set("data", R"({"a":1,})").str(), media_type::single},
      {E().set("data", R"({"a" 1})").str(), media_type::single},
      {E().set("data", R"({"a":tru})").str(), media_type::single},
      {E().set("data", R"({"a":1.})").str(), media_type::single},
      {E().set("data", R"({"a":[1 2]})").str(), media_type::single},
      {E().set("data", std::string(70, '[') + std::string(70, ']')).str(), media_type::single},
      {E().str() + "x", media_type::single},
      {E().str().substr(0, 60), media_type::single},
      {"[" + E().str() + "]", media_type::single},
      {E().str(), media_type::batch},
      {"[]", media_type::batch},
      {"[" + E().str() + ",]", media_type::batch},
      {"[" + E().str() + "] []", media_type::batch},
      {"[" + E().str() + ",1]", media_type::batch},
      {"{}", media_type::single},
      {"", media_type::single},
  };
  for (const auto& [body, t] : bodies) {
    CAPTURE(body);
    std::vector<event_ref> f;
    const api version = body.find("\"ext\":\"v\"") != std::string::npos ? api::v3 : api::v1;
    CHECK_FALSE(fast(body, t, f, version));
    test::run(body, t, version);  // and the validator's outcome is the general walk's (test_util.hpp)
  }
  // A body with a backslash anywhere never reaches the fast path (validator.cpp).
  CHECK(test::run(E().set("subject", "\"a\\nb\"").str()).ok);
  CHECK_FALSE(test::run(E().set("subject", "\"a\\xb\"").str()).ok);
}

TEST_CASE("the fast path and the general walk give the same outcome on mutated bodies") {
  const std::string data = R"({"a":[1,-2.5e3,{"b":"c"}],"d":null,"e":true})";
  const std::vector<std::string> bases = {
      E().set("data", data).set("ext", "\"v\"").set("n", "7").str(),
      batch({E().drop("time").str(), E().set("time", "null").set("dataschema", "\"s\"").str()}),
  };
  const std::string repl = "\"',:{}[] 0a-.n\x01/%";
  for (const std::string& base : bases) {
    for (std::size_t i = 0; i <= base.size(); ++i) {
      std::vector<std::string> variants;
      if (i < base.size()) variants.push_back(base.substr(0, i) + base.substr(i + 1));  // deleted
      for (char c : repl) {
        variants.push_back(base.substr(0, i) + c + base.substr(i));  // inserted
        if (i < base.size() && base[i] != c) variants.push_back(base.substr(0, i) + c + base.substr(i + 1));
      }
      for (const std::string& v : variants) {
        for (media_type t : {media_type::single, media_type::batch, media_type::json}) test::run(v, t);
      }
    }
  }
}

TEST_CASE("validator limits events the same on either path") {
  options opts;
  opts.max_events = 2;
  const std::string three = batch({E().str(), E().str(), E().str()});
  auto r = test::run(three, media_type::batch, api::v1, opts);
  CHECK_FALSE(r.ok);
  CHECK(r.err.code == errc::too_many_events);
  CHECK(test::run(batch({E().str(), E().str()}), media_type::batch, api::v1, opts).ok);
  opts.max_events = 0;
  CHECK_FALSE(test::run(E().str(), media_type::single, api::v1, opts).ok);
}

TEST_CASE("the SDKs' RFC 3339 form agrees with the general time check") {
  using detail::rfc3339_general;
  using detail::rfc3339_millis_utc;
  auto two = [](int v) { return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)}; };
  auto agree = [&](const std::string& s) {
    CAPTURE(s);
    const bool f = rfc3339_millis_utc(s), g = rfc3339_general(s);
    CHECK(f == g);  // a 24-byte candidate: the fast form decides it fully
    CHECK(detail::valid_rfc3339(s) == g);
  };
  // Every month and day, leap years and not (2000 is one, 1900 is not).
  for (const char* year : {"0000", "1900", "2000", "2023", "2024", "9999"}) {
    for (int m = 0; m <= 13; ++m) {
      for (int d = 0; d <= 32; ++d) agree(std::string(year) + "-" + two(m) + "-" + two(d) + "T12:34:56.789Z");
    }
  }
  // Hours to 24, minutes and seconds to 61: no leap second, as in Go.
  for (int h = 0; h <= 25; ++h) agree("2023-06-30T" + two(h) + ":00:00.000Z");
  for (int v = 0; v <= 61; ++v) {
    agree("2023-06-30T23:" + two(v) + ":00.000Z");
    agree("2023-06-30T23:59:" + two(v) + ".000Z");
  }
  // Every byte replaced by a neighbour of the digits or another separator.
  const std::string good = "2024-02-29T23:59:59.999Z";
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (char c : {'/', ':', '*', ',', '.', '-', 'T', 't', 'Z', 'z', ' ', 'a', '~', '0', '9', '\0', '\x80'}) {
      std::string s = good;
      s[i] = c;
      agree(s);
    }
  }
  // The values themselves, so that both agreeing wrongly fails too.
  CHECK(rfc3339_millis_utc("2024-02-29T23:59:59.999Z"));
  CHECK(rfc3339_millis_utc("2023-12-31T00:00:00.000Z"));
  CHECK_FALSE(rfc3339_general("2023-02-29T00:00:00.000Z"));
  CHECK_FALSE(rfc3339_general("1900-02-29T00:00:00.000Z"));
  CHECK_FALSE(rfc3339_general("2023-01-01T00:00:60.000Z"));
  CHECK_FALSE(rfc3339_general("2023-01-01T24:00:00.000Z"));
  CHECK_FALSE(rfc3339_general("2023-04-31T00:00:00.000Z"));
  // Other forms are the general check's alone: offsets, other fractions, none.
  for (const char* s : {"2023-01-01T00:00:00Z", "2023-01-01T00:00:00.1Z", "2023-01-01T00:00:00.123456789Z",
                        "2023-01-01T00:00:00.000+01:00", "2023-01-01T00:00:00-23:59", "2023-01-01T00:00:00+24:00",
                        "2023-01-01T00:00:00+00:60", "2023-01-01T00:00:00.000", "2023-01-01T00:00:00.Z",
                        "2023-01-01T00:00:00.000z", "2023-01-01t00:00:00.000Z", "", "2023-01-01T00:00:00.0000Z"}) {
    CAPTURE(s);
    CHECK_FALSE(rfc3339_millis_utc(s));
    CHECK(detail::valid_rfc3339(s) == rfc3339_general(s));
  }
  CHECK(rfc3339_general("2023-01-01T00:00:00.123456789Z"));
  CHECK(rfc3339_general("2023-01-01T00:00:00-23:59"));
  CHECK_FALSE(rfc3339_general("2023-01-01T00:00:00+24:00"));
}

TEST_CASE("the plain-name source shortcut agrees with the full URI reference check") {
  using detail::uri_reference_general;
  using detail::valid_uri_reference;
  // Every byte value at every position of short names: the shortcut takes
  // only what the full check accepts, and declines nothing it would refuse.
  for (std::size_t n = 0; n <= 20; ++n) {
    const std::string base(n, 'a');
    CHECK(valid_uri_reference(base) == (n != 0));  // empty is no URI reference
    for (std::size_t i = 0; i < n; ++i) {
      for (int c = 0; c < 256; ++c) {
        std::string s = base;
        s[i] = static_cast<char>(c);
        CAPTURE(s);
        CHECK(valid_uri_reference(s) == uri_reference_general(s));
      }
    }
  }
  // Percent-encoding, schemes, authorities, the empty string.
  const std::pair<const char*, bool> cases[] = {
      {"api-gateway", true}, {"a%20b", true}, {"%41", true}, {"a%zz", false}, {"%", false}, {"a%2", false},
      {"svc:x", true}, {":bad", false}, {"1-555:x", false}, {"//h:80/p", true}, {"//h:x/p", false},
      {"//[::1]:8/p", true}, {"//[::1/p", false}, {"a b", false}, {"{x}", true}, {"\xc3\xa9", true}, {"", false},
      {"a\x7f", false}, {"https://user@host.example:8080/a?b#c", true}, {"?q", true}, {"#f", true}, {"/p", true},
  };
  for (const auto& [s, want] : cases) {
    CAPTURE(s);
    CHECK(valid_uri_reference(s) == want);
    CHECK(uri_reference_general(s) == want);
  }
}
