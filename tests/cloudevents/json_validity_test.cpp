// SPDX-License-Identifier: Apache-2.0
// What the validator accepts is JSON (RFC 8259), whatever the media type
// (issue 16): the string-then-colon shapes simdjson's On-Demand skipping let
// through, a colon inserted anywhere, and a differential run of mutated events
// against two reference parsers (json_reference.hpp, simdjson's DOM parser).
#include <doctest/doctest.h>
#include <simdjson.h>

#include <filesystem>
#include <random>

#include "json_reference.hpp"
#include "test_util.hpp"

using namespace tg::cloudevents;
using test::E;
using test::run;
using tg::test::json_reference;

namespace {

constexpr media_type all_types[] = {media_type::single, media_type::batch, media_type::json};

std::string type_name(media_type t) {
  return t == media_type::single ? "single" : t == media_type::batch ? "batch" : "json";
}

std::string wrap(const std::string& event, media_type t) { return t == media_type::single ? event : "[" + event + "]"; }

constexpr std::string_view paddings[] = {test::zero_padding, test::hostile_padding};

// Whether the validator accepts `body` under `t`, either api version and either
// padding (simdjson looks at the first padding byte in some cases).
bool accepted_anyhow(const std::string& body, media_type t) {
  for (api v : {api::v1, api::v3}) {
    for (std::string_view pad : paddings) {
      if (run(body, t, v, {}, pad).ok) return true;
    }
  }
  return false;
}

// Bodies the validator accepts, used as starting points: every path through
// event_check (fast paths, escapes, extensions, data nesting, batches).
std::vector<std::string> accepted_bases() {
  std::vector<std::string> b = {
      E().str(),
      E().set("ext", "\"v\"").set("flag", "true").set("n", "7").set("none", "null").str(),
      E().set("data", R"({"a":["x","y",{"b":"c"}],"d":{"e":[1,-2.5e3,true,null,[]]},"f":""})").str(),
      E().set("subject", R"("t\n\"q\" \u00e9")").set("ext", R"("a\\b")").str(),  // escapes present
      E().set("time", "null").set("datacontenttype", "\"application/json\"").set("dataschema", "\"s\"").str(),
      R"({"specversion":"1.0","id":"1","source":"c","type":"a","subject":"t"})",
      " { \"specversion\" : \"1.0\" , \"id\" : \"1\" , \"source\" : \"c\" , \"type\" : \"a\" , "
      "\"subject\" : \"t\" , \"data\" : { \"k\" : [ \"v\" , 1 ] } } ",
  };
  std::string batch = "[";
  for (std::size_t i = 0; i < b.size(); ++i) batch += (i ? "," : "") + b[i];
  b.push_back(batch + "]");
  return b;
}

bool dom_accepts(simdjson::dom::parser& dom, std::string_view body, simdjson::error_code* why = nullptr) {
  simdjson::dom::element e;
  auto err = dom.parse(body.data(), body.size()).get(e);
  if (why != nullptr) *why = err;
  return err == simdjson::SUCCESS;
}

}  // namespace

TEST_CASE("validator rejects a string value followed by a colon (issue 16)") {
  const std::string head = R"({"specversion":"1.0","id":"1","source":"c","type":"a",)";
  // The issue's bodies, then the same shape after every kind of string value.
  std::vector<std::string> events = {
      head + R"("subject":"t":}})",
      head + R"("subject":"t":{}}})",
      head + R"("subject":"t":"u"})",
      head + R"("subject":"t":1})",
      head + R"("subject":"t":[]})",
      R"({"specversion":"1.0","id":"1":},"source":"c","type":"a","subject":"t"})",
      R"({"specversion":"1.0","id":"1","source":"c":},"type":"a","subject":"t"})",
      R"({"specversion":"1.0":},"id":"1","source":"c","type":"a","subject":"t"})",
      R"({"specversion":"1.0","id":"1","source":"c","type":"a":},"subject":"t"})",
      head + R"("subject":"t","time":"2023-01-01T00:00:00Z":}})",
      head + R"("subject":"t","datacontenttype":"application/json":}})",
      head + R"("subject":"t","dataschema":"s":}})",
      head + R"("subject":"t","ext":"v":}})",                  // extension value
      head + R"("subject":"t","ext":"v":{}}})",
      head + R"("subject":"t","id":"2":}})",                   // a repeated attribute
      head + R"("subject":"t","data":{"k":"v":}}})",           // inside data
      head + R"("subject":"t","data":{"k":["v":1]}})",         // an array in data
      head + R"("subject":"t","data":["v":1]})",
      head + R"("subject":"t","data":"v":}})",                 // data that is a string
      head + R"("subject":"t","data_base64":"v":}})",
  };
  for (const std::string& ev : events) {
    for (const std::string& escaped : {ev, ev.substr(0, ev.size() - 1) + R"(,"esc":"\n"})"}) {
      for (media_type t : all_types) {
        const std::string body = wrap(escaped, t);
        CAPTURE(body);
        const std::string tn = type_name(t);
        CAPTURE(tn);
        REQUIRE_FALSE(json_reference::valid(body));
        for (api v : {api::v1, api::v3}) {
          for (std::string_view pad : paddings) {
            auto r = run(body, t, v, {}, pad);
            CHECK_FALSE(r.ok);
            CHECK(r.err.code == errc::malformed_json);
          }
        }
      }
    }
  }
  SUBCASE("in the middle of a batch") {
    std::string body = "[" + E().str() + "," + head + R"("subject":"t":}},)" + E().str() + "]";
    for (media_type t : {media_type::batch, media_type::json}) {
      for (std::string_view pad : paddings) {
        auto r = run(body, t, api::v1, {}, pad);
        CHECK_FALSE(r.ok);
        CHECK(r.err.code == errc::malformed_json);
      }
    }
  }
}

TEST_CASE("validator rejects a colon inserted anywhere outside a string of an accepted body") {
  // A ':' is JSON only right after a key, where one already stands: inserted
  // anywhere else outside a string it breaks the body, whatever follows it.
  const char* tails[] = {":", ":}", ":{}}", ":\"x\"", ":1", ":[]", ":null}", ":}}", ":\"x\":\"y\""};
  int bodies = 0;
  for (const std::string& base : accepted_bases()) {
    for (media_type t : all_types) {
      if (!accepted_anyhow(base, t)) continue;
      bool in_string = false;
      for (std::size_t i = 0; i <= base.size(); ++i) {
        if (!in_string) {
          for (const char* tail : tails) {
            std::string body = base.substr(0, i) + tail + base.substr(i);
            CAPTURE(body);
            const std::string tn = type_name(t);
            CAPTURE(tn);
            REQUIRE_FALSE(json_reference::valid(body));
            CHECK_FALSE(accepted_anyhow(body, t));
            ++bodies;
          }
        }
        if (i < base.size()) {
          if (in_string && base[i] == '\\') ++i;
          else if (base[i] == '"') in_string = !in_string;
        }
      }
    }
  }
  CHECK(bodies > 10000);
}

TEST_CASE("the reference recognizer agrees with simdjson's DOM parser on hand-written cases") {
  simdjson::dom::parser dom;
  const char* good[] = {"{}", "[]", " [1, -0, 0.5e-3, 1E+9, true, false, null, \"\\u00e9\\n\"] ", "\"\xc3\xa9\"",
                        "{\"a\":{\"b\":[{}]}}", "0", "\"\xf0\x9f\x98\x80\""};
  const char* bad[] = {"",      "{",       "[1,]",     "{\"a\":1,}", "{\"a\" 1}", "[01]",     "[1.]",
                       "[.5]",  "[1e]",    "[-]",      "[tru]",      "\"\\x\"",   "\"\x01\"", "\"\xc0\xaf\"",
                       "\"\xed\xa0\x80\"", "[\"a\":1]", "{\"a\":\"b\":}", "[] []", "{1:2}", "[\"\\u12\"]", "\"\xff\""};
  for (const char* s : good) {
    CAPTURE(s);
    CHECK(json_reference::valid(s));
    CHECK(dom_accepts(dom, s));
  }
  for (const char* s : bad) {
    CAPTURE(s);
    CHECK_FALSE(json_reference::valid(s));
    CHECK_FALSE(dom_accepts(dom, s));
  }
  // Where the two differ, by design: RFC 8259 has no number range and allows
  // lone surrogate escapes; simdjson's DOM parser refuses both.
  for (const char* s : {"[1e400]", "[123456789012345678901234567890]", "[\"\\ud800\"]"}) {
    CAPTURE(s);
    CHECK(json_reference::valid(s));
    CHECK_FALSE(dom_accepts(dom, s));
  }
  CHECK_FALSE(json_reference::valid(std::string(1100, '[') + std::string(1100, ']')));
}

// Random edits of accepted bodies, biased towards JSON's structural bytes and
// the shapes above. Deterministic: a fixed seed, so a failure reproduces.
class mutator {
 public:
  explicit mutator(std::uint32_t seed) : rng_(seed) {}

  std::string mutate(std::string s) {
    const int edits = 1 + static_cast<int>(pick(3));
    for (int i = 0; i < edits; ++i) {
      const std::size_t at = pick(s.size() + 1);
      switch (pick(5)) {
        case 0: s.insert(at, std::string(piece())); break;
        case 1: s.erase(at, pick(4) + 1); break;
        case 2:
          if (at < s.size()) s[at] = piece()[0];
          break;
        case 3: {  // copy a span elsewhere (duplicates keys, values, brackets)
          const std::size_t from = pick(s.size() + 1);
          s.insert(at, s.substr(from, pick(12) + 1));
          break;
        }
        default:  // ':' and something: the shape of issue 16
          s.insert(at, std::string(piece()));
          s.insert(at, 1, ':');
          break;
      }
    }
    return s;
  }

 private:
  std::size_t pick(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  std::string_view piece() {
    static constexpr std::string_view pieces[] = {
        "\"", ":", ",", "{", "}", "[", "]", " ", "\n", "\\", "\\u00e9", "\\ud800", "\\x", "0", "1", "-", ".",
        "e", "E+", "1e400", "123456789012345678901", "true", "fals", "null", "\"x\"", "\"x\":", ":\"t\"",
        "{}", "[]", "\x80", "\xc3\xa9", "\xed\xa0\x80", std::string_view("\0", 1), "\x1f", "\"id\":\"2\",",
        "\"ext\":", "\"data\":", "/",
    };
    return pieces[pick(std::size(pieces))];
  }
  std::mt19937 rng_;
};

TEST_CASE("everything the validator accepts parses with both reference parsers (differential)") {
  simdjson::dom::parser dom;
  // Each accepted event's byte range must be a JSON object on its own: it is
  // forwarded as it is.
  auto check_events = [](const test::outcome& r) {
    for (const event_ref& ev : r.events) {
      std::string one = test::slice(r, ev);
      CAPTURE(one);
      CHECK(json_reference::valid(one));
      CHECK(one.front() == '{');
    }
  };
  std::vector<std::string> corpus = accepted_bases();
  mutator m(20261127);
  const std::vector<std::string> bases = accepted_bases();
  for (int i = 0; i < 12000; ++i) corpus.push_back(m.mutate(bases[static_cast<std::size_t>(i) % bases.size()]));
  // The fuzz target's corpus and regression inputs, replayed here too.
  const std::filesystem::path fuzz_corpus = FUZZ_CORPUS_DIR "/validator";
  std::size_t from_files = 0;
  if (std::filesystem::is_directory(fuzz_corpus)) {
    for (const auto& f : std::filesystem::directory_iterator(fuzz_corpus)) {
      corpus.push_back(test::read_file(f.path().string()));
      ++from_files;
    }
  }
  CHECK(from_files > 0);

  std::size_t accepted = 0, valid = 0;
  for (const std::string& body : corpus) {
    const bool ref = json_reference::valid(body);
    simdjson::error_code dom_err{};
    const bool by_dom = dom_accepts(dom, body, &dom_err);
    // The references agree, except where RFC 8259 is wider than the DOM parser.
    if (by_dom) CHECK(ref);
    if (ref && !by_dom) CHECK((dom_err == simdjson::NUMBER_ERROR ||
                               dom_err == simdjson::STRING_ERROR));
    valid += ref;
    for (media_type t : all_types) {
      for (api v : {api::v1, api::v3}) {
        for (std::string_view pad : paddings) {
          auto r = run(body, t, v, {}, pad);
          if (!r.ok) continue;
          ++accepted;
          CAPTURE(body);
          const std::string tn = type_name(t);
          CAPTURE(tn);
          CHECK(ref);
          if (ref) check_events(r);
        }
      }
    }
  }
  MESSAGE(corpus.size() << " bodies, " << valid << " valid JSON, " << accepted << " acceptances");
  // Not vacuous: the corpus holds both valid and invalid JSON, and many accepted.
  CHECK(valid > corpus.size() / 10);
  CHECK(valid < corpus.size() * 9 / 10);
  CHECK(accepted > corpus.size() / 10);
}

TEST_CASE("validator refuses a batch cut short after an event's last member, whatever the padding (fuzz finding)") {
  // The fuzzer's input: a batch whose last event and the array never close.
  const std::string body =
      "[\n  {\n    \"specversion\": \"1.0\",\n    \"id\": \"1\",\n    \"source\": \"c\",\n    \"type\": \"a\",\n"
      "    \"subject\": \"t\",\n \"data\": { \"k\": [ \"v\"]\n";
  namespace t = tg::cloudevents::test;
  for (std::string_view pad : {t::hostile_padding, t::zero_padding, std::string_view("}")}) {
    for (media_type mt : {media_type::batch, media_type::json}) {
      const t::outcome r = t::run(body, mt, api::v1, {}, pad);
      CHECK_FALSE(r.ok);
      CHECK(r.events.empty());
    }
  }
}
