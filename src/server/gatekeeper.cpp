// SPDX-License-Identifier: Apache-2.0
// The gatekeeper: OPTIONS, the token, the encoding, then the inner handler,
// then CORS headers and per-client counts on its answer. A parked request's
// inflated body stays with the connection (in the parked state), because the
// inner handler's validated events point into it.
#include "gatekeeper.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "tollgate/http/response.hpp"

namespace tg::server {
namespace {
constexpr std::string_view v1_path = "/api/v1/events";
constexpr std::string_view v3_path = "/api/v3/openmeter/events";
constexpr std::string_view ingest_allow = "POST, OPTIONS";
constexpr std::string_view default_allow_headers = "Authorization, Content-Type, Content-Encoding";
constexpr std::size_t max_allow_headers_bytes = 512;

endpoint endpoint_of(std::string_view path) {
  if (path == v1_path) return endpoint::ingest_v1;
  if (path == v3_path) return endpoint::ingest_v3;
  return endpoint::other;
}

bool is_api(std::string_view path) { return path.substr(0, 5) == "/api/"; }

// Access-Control-Request-Headers echoed back only when it is a plain list of
// header names.
bool plain_header_list(std::string_view v) {
  if (v.empty() || v.size() > max_allow_headers_bytes) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == ',' || c == ' ';
  });
}

// What the inner handler keeps of a parked request, and the body it points into.
struct gate_kept final : parked_state {
  std::unique_ptr<parked_state> inner;
  http::inflated_body body;
  bool inflated = false;
  std::uint16_t client = client_registry::none;
};

int status_at(const std::string& out, std::size_t at) {
  // "HTTP/1.1 204 ...": the writers in http/response.cpp always write this shape.
  if (out.size() < at + 12) return 0;
  return (out[at + 9] - '0') * 100 + (out[at + 10] - '0') * 10 + (out[at + 11] - '0');
}
}  // namespace

gatekeeper::gatekeeper(std::unique_ptr<request_handler> inner, const options& opts, probe& counters,
                       const published<ingest_tokens>* tokens, const published<mapping::route_table>* routes)
    : inner_(std::move(inner)), opts_(opts), counters_(counters), tokens_(tokens), routes_(routes),
      auth_(tokens != nullptr) {}

std::string_view gatekeeper::allowed_origin(std::string_view origin) const {
  if (origin.empty()) return {};
  for (const std::string& o : opts_.cors_origins) {
    if (o == "*") return "*";
    if (o == origin) return o;  // the configured copy: it outlives the request
  }
  return {};
}

int gatekeeper::find_client(const ingest_tokens& t, std::string_view token) {
  const std::uint64_t gen = tokens_.generation();
  for (const cached_token& c : cache_) {
    // Each entry is compared in constant time for its length: the time shows
    // a token's length and which entry matched, never its bytes.
    if (c.generation == gen && c.client >= 0 && c.token.size() == token.size() && !token.empty() &&
        CRYPTO_memcmp(c.token.data(), token.data(), token.size()) == 0) {
      return c.client;
    }
  }
  const int found = t.table.find(token, hash_);
  if (found >= 0) {
    cached_token& c = cache_[cache_next_++ % cache_.size()];
    c.token.assign(token);
    c.client = found;
    c.generation = gen;
  }
  return found;
}

void gatekeeper::count_client(std::uint16_t client, bool rejected, std::uint64_t events) {
  if (client == client_registry::none) return;
  client_counters& c = counters_.clients[std::min<std::size_t>(client, client_registry::other)];
  c.requests.add();
  if (rejected) c.rejections.add();
  if (events != 0) c.events.add(events);
}

outcome gatekeeper::refuse(const http::request& req, refusal r, std::string_view detail, http::connection conn,
                           std::string& out, std::uint16_t client) {
  write_refusal(out, r, conn, detail);
  counters_.count(r);
  counters_.count_request(endpoint_of(req.path), describe(r).status);
  count_client(client, true, 0);
  return outcome::answered;
}

// OPTIONS on an ingest path: Allow, and the CORS preflight answer when the
// origin is allowed. Browsers send preflights without credentials, so this
// comes before the token check.
outcome gatekeeper::options_answer(const http::request& req, std::string_view origin, http::connection conn,
                                   std::string& out) {
  const std::string_view method = req.header("Access-Control-Request-Method");
  std::pair<std::string_view, std::string_view> h[6];
  std::size_t n = 0;
  h[n++] = {"Allow", ingest_allow};
  if (!origin.empty() && !method.empty()) {
    const std::string_view asked = req.header("Access-Control-Request-Headers");
    h[n++] = {"Access-Control-Allow-Origin", origin};
    h[n++] = {"Access-Control-Allow-Methods", ingest_allow};
    h[n++] = {"Access-Control-Allow-Headers", plain_header_list(asked) ? asked : default_allow_headers};
    h[n++] = {"Access-Control-Max-Age", "600"};
    h[n++] = {"Vary", "Origin"};
  }
  http::write_empty(out, 204, conn, http::header_list(h, n));
  counters_.count_request(endpoint_of(req.path), 204);
  return outcome::answered;
}

outcome gatekeeper::handle(const http::request& req, http::connection conn, std::string& out, request_context& ctx) {
  const std::string_view path = req.path;
  // A mapping route writes usage like the ingest paths: the same token check
  // and body codings.
  const mapping::route_table* routes = routes_.get();
  if (!is_api(path) && (routes == nullptr || routes->find(path) == nullptr)) return inner_->handle(req, conn, out, ctx);
  const std::size_t at = out.size();
  const std::string_view origin = allowed_origin(req.header("Origin"));
  const bool ingest_path = path == v1_path || path == v3_path;
  if (ingest_path && req.verb == http::method::options) return options_answer(req, origin, conn, out);

  std::unique_ptr<gate_kept> kept(static_cast<gate_kept*>(ctx.kept.release()));
  std::uint16_t client = ctx.peer_client;
  http::request inflated_req;
  const http::request* use = &req;
  if (kept) {
    // A retry of a parked request: its token and body were checked the first time.
    client = kept->client;
    ctx.kept = std::move(kept->inner);
    if (kept->inflated) {
      inflated_req = req;
      inflated_req.body = kept->body.view();
      use = &inflated_req;
      body_.bytes.swap(kept->body.bytes);  // keep it here while the inner handler decides
      std::swap(body_.capacity, kept->body.capacity);
      std::swap(body_.size, kept->body.size);
    }
  } else {
    if (auth_) {
      const ingest_tokens* t = tokens_.get();
      const int found = t == nullptr ? -1 : find_client(*t, bearer_token(req.authorization));
      if (found < 0) {
        refuse(req, refusal::unauthorized, {}, conn, out, client);
      } else {
        client = t->slots[static_cast<std::size_t>(found)];
      }
    }
    const std::string_view enc = req.header("Content-Encoding");
    if (out.size() == at && !enc.empty()) {
      auto c = http::parse_content_encoding(enc);
      if (!c) {
        refuse(req, refusal::unsupported_encoding, c.error(), conn, out, client);
      } else if (*c != http::coding::identity) {
        auto r = inflater_.run(*c, req.body, opts_.limits.max_body_bytes, body_);
        if (!r) {
          refuse(req, r.error().code == http::inflate_errc::too_large ? refusal::inflated_too_large
                                                                      : refusal::corrupt_encoding,
                 r.error().detail, conn, out, client);
        } else {
          inflated_req = req;
          inflated_req.body = body_.view();
          use = &inflated_req;
        }
      }
    }
  }

  if (out.size() == at) {
    const std::uint64_t events_before = counters_.events_accepted.get();
    const outcome o = inner_->handle(*use, conn, out, ctx);
    if (o == outcome::park) {
      auto k = std::make_unique<gate_kept>();
      k->inner = std::move(ctx.kept);
      k->client = client;
      if (use == &inflated_req) {
        k->inflated = true;
        k->body.bytes.swap(body_.bytes);
        std::swap(k->body.capacity, body_.capacity);
        std::swap(k->body.size, body_.size);
      }
      ctx.kept = std::move(k);
      return o;
    }
    const std::uint64_t events = counters_.events_accepted.get() - events_before;
    if (o == outcome::await_ack) {
      count_client(client, false, events);
      ctx.cors_origin = origin;
      return o;
    }
    if (o == outcome::answered) count_client(client, status_at(out, at) >= 400, events);
    if (o != outcome::answered) return o;
  }
  if (!origin.empty()) {
    const std::pair<std::string_view, std::string_view> h[] = {{"Access-Control-Allow-Origin", origin},
                                                               {"Vary", "Origin"}};
    http::insert_headers(out, at, http::header_list(h, 2));
  }
  return outcome::answered;
}

}  // namespace tg::server
