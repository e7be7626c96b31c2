// SPDX-License-Identifier: Apache-2.0
// Dead-letter records: one valid JSON object per line, event bytes verbatim,
// the upstream's detail escaped, and a file that is only ever appended to.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "tollgate/output/http/dead_letter.hpp"

using namespace tg::upstream;

namespace {
timespec at(std::time_t s, long ns) {
  timespec t{};
  t.tv_sec = s;
  t.tv_nsec = ns;
  return t;
}
}  // namespace

TEST_CASE("dead-letter record has time, status, detail and the event verbatim") {
  std::string out;
  append_dead_letter(out, R"({"id":"1","source":"s","type":"t","subject":"c","specversion":"1.0"})", 400,
                     "invalid event", at(1700000000, 123456789));
  CHECK(out ==
        R"({"time":"2023-11-14T22:13:20.123Z","status":400,"detail":"invalid event","event":{"id":"1","source":"s","type":"t","subject":"c","specversion":"1.0"}})"
        "\n");
}

TEST_CASE("dead-letter detail is JSON-escaped") {
  std::string out;
  append_dead_letter(out, "{}", 422, "bad \"quote\" \\ back\nnew\ttab \x01 <tag>", at(0, 0));
  CHECK(out ==
        "{\"time\":\"1970-01-01T00:00:00.000Z\",\"status\":422,"
        "\"detail\":\"bad \\\"quote\\\" \\\\ back\\nnew\\ttab \\u0001 \\u003ctag\\u003e\",\"event\":{}}\n");
}

TEST_CASE("dead-letter keeps a pretty-printed event on one line") {
  std::string out;
  append_dead_letter(out, "{\r\n  \"id\": \"a\\nb\"\n}", 400, "x", at(0, 0));
  CHECK(out.find('\n') == out.size() - 1);
  CHECK(out.find('\r') == std::string::npos);
  CHECK(out.find(R"("event":{    "id": "a\nb" })") != std::string::npos);  // the escaped \n in the string stays
}

TEST_CASE("dead-letter appends to what is already in the buffer, empty event is null") {
  std::string out = "previous\n";
  append_dead_letter(out, "", 500, "", at(0, 0));
  CHECK(out.rfind("previous\n{", 0) == 0);
  CHECK(out.find(R"("detail":"","event":null})") != std::string::npos);
}

TEST_CASE("dead-letter file is created, appended to, and refuses a bad path") {
  char dir[] = "/tmp/tollgate-dl-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/dead.jsonl";
  {
    std::ofstream(path) << "old line\n";
  }
  {
    dead_letter_file f(path);
    REQUIRE(f.fd() >= 0);
    CHECK(f.path() == path);
    CHECK((fcntl(f.fd(), F_GETFL) & O_APPEND) != 0);
    std::string line;
    append_dead_letter(line, "{}", 400, "d", at(0, 0));
    ::lseek(f.fd(), 0, SEEK_SET);  // O_APPEND ignores the offset
    REQUIRE(::write(f.fd(), line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  }
  std::stringstream ss;
  ss << std::ifstream(path).rdbuf();
  CHECK(ss.str() == "old line\n{\"time\":\"1970-01-01T00:00:00.000Z\",\"status\":400,\"detail\":\"d\",\"event\":{}}\n");
  CHECK_THROWS_AS(dead_letter_file(std::string(dir) + "/no/such/dir/x.jsonl"), std::system_error);
  ::unlink(path.c_str());
  ::rmdir(dir);
}
