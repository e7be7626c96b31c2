// SPDX-License-Identifier: Apache-2.0
// The routes file: what compiles, and for what does not, an error that names
// the route and the field (start-up prints it and exits 2; a reload logs it).
#include "test_util.hpp"

using namespace tg::mapping;
using test::compile_error;
using test::event_with;
using test::one_route;

TEST_CASE("the issue's routes file compiles and its routes are found by exact path") {
  const std::string file = R"({"routes": [
    {"path": "/ingest/llm-usage", "each": "{/requests}",
     "event": {"id": "{/request_id}", "type": "llm-tokens", "source": "gateway-{/region}",
               "subject": "{/user}", "time": "{/created}", "time_format": "unix_s",
               "data": {"model": "{/model}", "prompt_tokens": "{/usage/prompt_tokens}"}}},
    {"path": "/ingest/webhook",
     "event": {"id": "{#hash}", "type": "webhook.{/kind}", "source": "hooks", "subject": "{/account}", "data": "{}"}}
  ]})";
  auto t = parse_routes(file);
  REQUIRE(t);
  CHECK(t->size() == 2);
  CHECK(t->paths() == std::vector<std::string_view>{"/ingest/llm-usage", "/ingest/webhook"});
  REQUIRE(t->find("/ingest/webhook") != nullptr);
  CHECK(path_of(*t->find("/ingest/webhook")) == "/ingest/webhook");
  CHECK(t->find("/ingest/webhook/") == nullptr);
  CHECK(t->find("/ingest") == nullptr);
  CHECK(t->find("/INGEST/WEBHOOK") == nullptr);
  CHECK(route_table{}.find("/x") == nullptr);
}

TEST_CASE("an empty routes list compiles to a table with no routes") {
  auto t = parse_routes(R"({"routes":[]})");
  REQUIRE(t);
  CHECK(t->size() == 0);
}

TEST_CASE("the file itself must be a JSON object with a routes array and nothing else") {
  CHECK(compile_error("{").starts_with("mappings file is not valid JSON: "));
  CHECK(compile_error("[]") == "mappings file must be a JSON object with a \"routes\" array");
  CHECK(compile_error("{}") == "mappings file must be a JSON object with a \"routes\" array");
  CHECK(compile_error(R"({"routes":{}})") == "mappings file must be a JSON object with a \"routes\" array");
  CHECK(compile_error(R"({"routes":[],"rutes":[]})") == "mappings file: unknown field \"rutes\" (expected \"routes\")");
  route_limits small;
  small.max_file_bytes = 10;
  CHECK(parse_routes(R"({"routes":[]})", small).error() == "mappings file is larger than 10 bytes");
}

TEST_CASE("a route without a usable path is named by its position") {
  CHECK(compile_error(R"({"routes":[7]})") == "routes[0]: must be an object with path and event");
  CHECK(compile_error(R"({"routes":[{"event":{}}]})") == "routes[0]: path is missing");
  for (std::string p : {"\"\"", "\"x\"", "\"/a?b\"", "\"/a b\"", "\"/a#b\"", "3"}) {
    CAPTURE(p);
    CHECK(compile_error(R"({"routes":[{"path":)" + p + R"(,"event":{}}]})") ==
          "routes[0]: path: must be a string starting with '/', without '?', '#' or white space");
  }
}

TEST_CASE("errors name the route by its path and the field") {
  CHECK(compile_error(one_route(R"({"type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id is missing (a CloudEvent requires it)");
  CHECK(compile_error(one_route(R"({"id":"i","type":"t","source":"s"})")) ==
        "route /in: event.subject is missing (a CloudEvent requires it)");
  CHECK(compile_error(one_route(R"({"id":7,"type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: must be a string template, got a number");
  CHECK(compile_error(one_route(R"({"id":"","type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: must not be empty");
  CHECK(compile_error(R"({"routes":[{"path":"/in"}]})") == "route /in: event is missing");
  CHECK(compile_error(R"({"routes":[{"path":"/in","event":[]}]})") == "route /in: event: must be an object, got an array");
  CHECK(compile_error(R"({"routes":[{"path":"/in","evnt":{}}]})") ==
        "route /in: unknown field \"evnt\" (a route has path, each and event)");
  CHECK(compile_error(one_route(event_with(R"("dataschema":"x")"))) ==
        "route /in: unknown field \"event.dataschema\" (an event template has id, type, source, subject, time, "
        "time_format and data)");
  CHECK(compile_error(one_route(event_with(R"("id":"again")"))) == "route /in: event.id: appears twice");
}

TEST_CASE("template syntax errors quote the template") {
  CHECK(compile_error(one_route(R"({"id":"{/a","type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: unclosed '{' in \"{/a\" (write '{{' for a literal '{')");
  CHECK(compile_error(one_route(R"({"id":"a}","type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: unmatched '}' in \"a}\" (write '}}' for a literal '}')");
  CHECK(compile_error(one_route(R"({"id":"{a}","type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: unknown placeholder {a}: use {/json/pointer}, {} for the whole element or {#hash}");
  CHECK(compile_error(one_route(R"({"id":"{/a~2}","type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: bad escape in JSON pointer \"/a~2\": '~' must be followed by 0 or 1");
  CHECK(compile_error(one_route(R"({"id":"{/a~}","type":"t","source":"s","subject":"u"})")) ==
        "route /in: event.id: bad escape in JSON pointer \"/a~\": '~' must be followed by 0 or 1");
  CHECK(compile_error(one_route(event_with(R"("data":{"m":{"n":"{x"}})"))) ==
        "route /in: event.data.m.n: unclosed '{' in \"{x\" (write '{{' for a literal '{')");
  CHECK(compile_error(one_route(event_with(R"("data":{"l":[1,"{/a}","{#nope}"]})"))) ==
        "route /in: event.data.l[2]: unknown placeholder {#nope}: use {/json/pointer}, {} for the whole element or {#hash}");
}

TEST_CASE("each must be exactly one pointer placeholder") {
  for (std::string each : {"/requests", "{/a}{/b}", "x{/a}", "{#hash}", "{a}", "{/a}}"}) {
    CAPTURE(each);
    CHECK(compile_error(one_route(event_with(""), each)) ==
          "route /in: each: must be one placeholder such as \"{/requests}\" or \"{}\", got \"" + each + "\"");
  }
  CHECK(compile_error(one_route(event_with(""), "{/a~3}")) ==
        "route /in: each: bad escape in JSON pointer \"/a~3\": '~' must be followed by 0 or 1");
  CHECK(compile_error(R"({"routes":[{"path":"/in","each":1,"event":{}}]})") ==
        "route /in: each: must be a string such as \"{/requests}\", got a number");
  CHECK(compile_error(one_route(event_with(""), "{}")) == "compiled");
  CHECK(compile_error(one_route(event_with(""), "{/a/0/b~1c}")) == "compiled");
}

TEST_CASE("time_format is one of three, and only with a time") {
  CHECK(compile_error(one_route(event_with(R"("time":"{/t}","time_format":"iso")"))) ==
        "route /in: event.time_format: must be rfc3339, unix_s or unix_ms, got \"iso\"");
  CHECK(compile_error(one_route(event_with(R"("time":"{/t}","time_format":1)"))) ==
        "route /in: event.time_format: must be rfc3339, unix_s or unix_ms, got a number");
  CHECK(compile_error(one_route(event_with(R"("time_format":"unix_ms")"))) ==
        "route /in: event.time_format: is given without event.time");
  CHECK(compile_error(one_route(event_with(R"("time":null)"))) ==
        "route /in: event.time: must be a string template, got null");
  for (std::string f : {"rfc3339", "unix_s", "unix_ms"}) {
    CHECK(compile_error(one_route(event_with(R"("time":"{/t}","time_format":")" + f + "\""))) == "compiled");
  }
}

TEST_CASE("data is an object or one placeholder") {
  CHECK(compile_error(one_route(event_with(R"("data":"x{}")"))) ==
        "route /in: event.data: must be a JSON object or one placeholder such as \"{}\", got \"x{}\"");
  CHECK(compile_error(one_route(event_with(R"("data":[1])"))) ==
        "route /in: event.data: must be a JSON object or one placeholder such as \"{}\", got an array");
  CHECK(compile_error(one_route(event_with(R"("data":{"a":1,"a":2})"))) == "route /in: event.data.a: appears twice");
  CHECK(compile_error(one_route(event_with(R"("data":"{/x}")"))) == "compiled");
}

TEST_CASE("two routes with one path are refused") {
  const std::string r = R"({"path":"/a","event":{"id":"i","type":"t","source":"s","subject":"u"}})";
  CHECK(compile_error("{\"routes\":[" + r + "," + r + "]}") == "route /a: path: defined twice");
}

TEST_CASE("the bounds of route_limits are enforced with their numbers in the error") {
  route_limits lim;
  lim.max_routes = 1;
  const std::string r = R"({"path":"/a","event":{"id":"i","type":"t","source":"s","subject":"u"}})";
  const std::string r2 = R"({"path":"/b","event":{"id":"i","type":"t","source":"s","subject":"u"}})";
  CHECK(parse_routes("{\"routes\":[" + r + "," + r2 + "]}", lim).error() == "mappings file has more than 1 routes");

  route_limits lim2;
  lim2.max_placeholders = 2;
  CHECK(parse_routes(one_route(R"({"id":"{/a}","type":"{/b}","source":"{/a}","subject":"{/c}"})"), lim2).error() ==
        "route /in: event.subject: the route uses more than 2 distinct pointers");

  route_limits lim3;
  lim3.max_pointer_tokens = 2;
  CHECK(parse_routes(one_route(R"({"id":"{/a/b/c}","type":"t","source":"s","subject":"u"})"), lim3).error() ==
        "route /in: event.id: JSON pointer \"/a/b/c\" has more than 2 tokens");

  route_limits lim4;
  lim4.max_data_depth = 2;
  CHECK(parse_routes(one_route(event_with(R"("data":{"a":{"b":{}}})")), lim4).error() ==
        "route /in: event.data.a.b: nests deeper than 2 levels");

  route_limits lim5;
  lim5.max_data_nodes = 3;
  CHECK(parse_routes(one_route(event_with(R"("data":{"a":1,"b":2,"c":3})")), lim5).error() ==
        "route /in: event.data.c: the data template has more than 3 members and items");
}
