// SPDX-License-Identifier: Apache-2.0
// The steady-state promise: once a mapper has seen a request of a size,
// mapping another allocates nothing, neither through operator new nor inside
// OpenSSL (the {#hash} digest). Both allocators are counted.
#include <openssl/crypto.h>

#include "../support/counting_new.hpp"
#include "test_util.hpp"

namespace {

using tg::test::allocations;

void* crypto_malloc(std::size_t n, const char*, int) {
  ++allocations;
  return std::malloc(n);
}
void* crypto_realloc(void* p, std::size_t n, const char*, int) {
  ++allocations;
  return std::realloc(p, n);
}
void crypto_free(void* p, const char*, int) { std::free(p); }

// Before anything in OpenSSL allocates: at static initialisation.
const bool crypto_counted = CRYPTO_set_mem_functions(crypto_malloc, crypto_realloc, crypto_free) == 1;

}  // namespace

using namespace tg::mapping;

TEST_CASE("mapping allocates nothing in the steady state, {#hash} included") {
  REQUIRE(crypto_counted);
  auto t = test::compile(R"({"routes":[
    {"path":"/llm","each":"{/requests}","event":{"id":"{/id}","type":"llm","source":"gw-{/region}","subject":"{/user}",
      "time":"{/created}","time_format":"unix_s","data":{"model":"{/model}","p":"{/usage/prompt_tokens}","all":"{}"}}},
    {"path":"/hook","each":"{}","event":{"id":"{#hash}","type":"t","source":"s","subject":"{/a}","data":"{}"}}]})");
  std::string llm = R"({"requests":[)";
  std::string hook = "[";
  for (int i = 0; i < 100; ++i) {
    const std::string n = std::to_string(i);
    llm += std::string(i ? "," : "") + R"({"id":"r)" + n + R"(","region":"eu","user":"u)" + n + R"(","created":)" +
           std::to_string(1712345678 + i * 3600) + R"(,"model":"m","usage":{"prompt_tokens":)" + n + "}}";
    hook += std::string(i ? "," : "") + R"({"a":"x)" + n + R"(","n":)" + n + "}";
  }
  llm += "]}";
  hook += "]";
  mapper m;
  output out;
  error err;
  for (auto [path, body] : {std::pair<const char*, std::string>{"/llm", llm}, {"/hook", hook}}) {
    CAPTURE(path);
    const route* r = t.find(path);
    REQUIRE(r != nullptr);
    std::string buf = body + std::string(64, ' ');
    const std::string_view view(buf.data(), body.size());
    REQUIRE(m.map(*r, view, out, err));  // warm-up: buffers grow here
    const std::size_t before = allocations;
    bool ok = true;
    for (int i = 0; i < 10; ++i) ok = ok && m.map(*r, view, out, err);
    const std::size_t during = allocations - before;
    CHECK(ok);
    CHECK(out.events == 100);
    CHECK(during == 0);
  }
  // The counter does count: a refusal writes its detail, which allocates.
  const std::size_t before = allocations;
  std::string bad = R"({"requests":[{"id":"x"}]})" + std::string(64, ' ');
  CHECK_FALSE(m.map(*t.find("/llm"), std::string_view(bad.data(), bad.size() - 64), out, err));
  CHECK(allocations > before);
}
