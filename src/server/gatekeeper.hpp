// SPDX-License-Identifier: Apache-2.0
// What a request passes before the application handler sees it, as a
// handler around the handler (no I/O, like every handler): OPTIONS and CORS
// preflights on the ingest paths, the bearer token on every /api/ request
// (--ingest-tokens-file), the Content-Encoding of its body (inflated within
// --max-body-bytes), the CORS headers of the answer, and the per-client
// counters. One per shard, on its thread; the token table is read through a
// subscription (a new table after SIGHUP is picked up on the next request
// without a lock).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/base/published.hpp"
#include "tollgate/http/inflate.hpp"
#include "tollgate/server/clients.hpp"
#include "tollgate/server/options.hpp"
#include "tollgate/server/probe.hpp"
#include "tollgate/server/request_handler.hpp"
#include "tollgate/server/tokens.hpp"

#include "tollgate/mapping/routes.hpp"

namespace tg::server {

// What --ingest-tokens-file says, with each client's registry slot.
struct ingest_tokens {
  token_table table;
  std::vector<std::uint16_t> slots;  // by token_table client index
};

class gatekeeper final : public request_handler {
 public:
  // `tokens`: null without --ingest-tokens-file (the /api/ paths are open).
  // `routes`: the --mappings routes, or null; their paths are gated like /api/.
  gatekeeper(std::unique_ptr<request_handler> inner, const options& opts, probe& counters,
             const published<ingest_tokens>* tokens, const published<mapping::route_table>* routes = nullptr);

  outcome handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) override;

 private:
  outcome options_answer(const http::request& req, std::string_view origin, http::connection conn, std::string& out);
  outcome refuse(const http::request& req, refusal r, std::string_view detail, http::connection conn,
                 std::string& out, std::uint16_t client);
  std::string_view allowed_origin(std::string_view origin) const;
  void count_client(std::uint16_t client, bool rejected, std::uint64_t events);
  int find_client(const ingest_tokens& t, std::string_view token);

  std::unique_ptr<request_handler> inner_;
  const options& opts_;
  probe& counters_;
  subscription<ingest_tokens> tokens_;
  subscription<mapping::route_table> routes_;
  bool auth_;
  sha256_hasher hash_;
  // The tokens that matched last on this shard (a client sends the same one
  // on every request): a hit costs a constant-time compare instead of a
  // SHA-256. Valid for one table generation only.
  struct cached_token {
    std::string token;
    int client = -1;
    std::uint64_t generation = 0;
  };
  std::array<cached_token, 4> cache_;
  std::size_t cache_next_ = 0;
  http::inflater inflater_;
  http::inflated_body body_;  // the inflated body of the request being handled
};

}  // namespace tg::server
