// SPDX-License-Identifier: Apache-2.0
// The tokens file: what parses, what fails and how the failure is named, and
// lookups of plain and hashed tokens (never a prefix or a near miss).
#include <doctest/doctest.h>

#include <string>

#include "tollgate/server/clients.hpp"
#include "tollgate/server/tokens.hpp"

using namespace tg::server;

namespace {

std::string hex(const digest& d) {
  static const char* x = "0123456789abcdef";
  std::string s;
  for (unsigned char c : d) {
    s += x[c >> 4];
    s += x[c & 15];
  }
  return s;
}

std::string parse_error(const std::string& text) {
  auto t = token_table::parse(text);
  REQUIRE(!t);
  return t.error();
}
}  // namespace

TEST_CASE("SHA-256 of a token is the standard digest") {
  sha256_hasher h;
  CHECK(hex(h("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(h("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("plain and sha256: lines, comments, blank lines, tabs and CRLF parse") {
  sha256_hasher h;
  const std::string hashed = hex(h("tok-bob"));
  auto t = token_table::parse("# clients\r\n\r\n  alice   tok-alice\r\nbob\tsha256:" + hashed +
                              "\n# alice rotates: a second token for the same name\nalice tok-alice-2\n");
  REQUIRE(t);
  CHECK(t->size() == 3);
  REQUIRE(t->names().size() == 2);
  CHECK(t->names()[0] == "alice");
  CHECK(t->names()[1] == "bob");
  CHECK(t->find("tok-alice", h) == 0);
  CHECK(t->find("tok-alice-2", h) == 0);
  CHECK(t->find("tok-bob", h) == 1);
  // Near misses, prefixes and the hash itself are not tokens.
  for (const char* wrong : {"tok-alic", "tok-alice ", "tok-alice-", "Tok-alice", "tok-bo", "", "x"}) {
    CAPTURE(wrong);
    CHECK(t->find(wrong, h) == -1);
  }
  CHECK(t->find("sha256:" + hashed, h) == -1);
  CHECK(t->find(hashed, h) == -1);
}

TEST_CASE("uppercase hex is accepted in sha256: lines") {
  sha256_hasher h;
  std::string up = hex(h("tok"));
  for (char& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto t = token_table::parse("svc sha256:" + up + "\n");
  REQUIRE(t);
  CHECK(t->find("tok", h) == 0);
}

TEST_CASE("malformed lines fail with their line number and without their content") {
  CHECK(parse_error("alice tok-a\nbob\n").rfind("line 2: ", 0) == 0);
  CHECK(parse_error("alice tok-a extra\n").rfind("line 1: expected two fields", 0) == 0);
  CHECK(parse_error("\n\n# c\nal!ce tok\n").rfind("line 4: the client name", 0) == 0);
  CHECK(parse_error("alice sha256:abcd\n").rfind("line 1: sha256: needs 64 hex digits", 0) == 0);
  CHECK(parse_error("alice sha256:" + std::string(63, 'a') + "g\n").rfind("line 1: sha256:", 0) == 0);
  CHECK(parse_error(std::string(65, 'n') + " tok\n").rfind("line 1: the client name", 0) == 0);
  CHECK(parse_error("a secret-one\nb secret-one\n") == "line 2: the same token as line 1");
  CHECK(parse_error("a tok\xc3\xa9\n").rfind("line 1: the token has a character", 0) == 0);
  CHECK(parse_error("# only comments\n\n") == "no tokens (every request would be refused)");
  const std::string e = parse_error("alice super-secret-token extra\n");
  CHECK(e.find("super-secret") == std::string::npos);
}

TEST_CASE("the number of tokens in a file is bounded") {
  std::string text;
  for (std::size_t i = 0; i <= max_token_lines; ++i) text += "c" + std::to_string(i % 10) + " t" + std::to_string(i) + "\n";
  CHECK(parse_error(text).find("more than 4096 tokens") != std::string::npos);
}

TEST_CASE("Authorization: Bearer values give their token, other schemes none") {
  CHECK(bearer_token("Bearer abc") == "abc");
  CHECK(bearer_token("bearer   abc  ") == "abc");
  CHECK(bearer_token("BEARER\tabc") == "abc");
  CHECK(bearer_token("Basic YWJj") == "");
  CHECK(bearer_token("Bearerabc") == "");
  CHECK(bearer_token("Bearer") == "");
  CHECK(bearer_token("") == "");
}

TEST_CASE("client names get stable slots, bounded, with the rest sharing _other") {
  client_registry r;
  CHECK(r.intern("a") == 0);
  CHECK(r.intern("b") == 1);
  CHECK(r.intern("a") == 0);
  for (std::size_t i = 2; i < max_clients; ++i) CHECK(r.intern("n" + std::to_string(i)) == i);
  CHECK(r.size() == max_clients);
  CHECK(r.intern("one too many") == client_registry::other);
  CHECK(r.size() == max_clients);
  CHECK(r.name(1) == "b");
}
