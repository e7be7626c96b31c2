// SPDX-License-Identifier: Apache-2.0
// The pass-through's rewriting of messages, as RFC 9110 asks of a gateway:
// the request for the upstream (its path under the upstream URL's prefix,
// Host, hop-by-hop fields and those named in Connection removed, Via,
// X-Forwarded-For and Forwarded added, the body re-framed by Content-Length)
// and the response head for the client (hop-by-hop fields removed, the body
// framed for the client's HTTP version). Pure functions: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/http/request_parser.hpp"
#include "tollgate/http/response.hpp"
#include "tollgate/http/response_stream.hpp"

namespace tg::server::proxy {

// Fields that describe one connection, never forwarded (RFC 9110 section
// 7.6.1), plus Proxy-Connection (pre-standard) and Proxy-Authorization
// (meant for a proxy, not the origin). Case-insensitive.
bool hop_by_hop(std::string_view name) noexcept;
// Whether `name` is one of the comma-separated options in a Connection value.
bool named_in_connection(std::string_view connection_value, std::string_view name) noexcept;

// Appends the request to send upstream: `<method> <prefix><target> HTTP/1.1`,
// Host = `host_header`, the client's fields (its Authorization untouched)
// without the hop-by-hop ones, `Via: 1.1 tollgate`, `X-Forwarded-For` and
// `Forwarded` with `peer` (the client's address, "127.0.0.1" or "::1")
// appended to what the client sent, and the body with its Content-Length.
void write_upstream_request(const http::request& req, std::string_view prefix, std::string_view host_header,
                            std::string_view peer, std::string& out);

// How the response body goes to the client.
enum class framing : std::uint8_t {
  none,         // no body (HEAD, 204, 304)
  length,       // as the upstream framed it: Content-Length, bytes as they come
  chunked,      // the upstream's chunked or close-ended body, re-chunked for an HTTP/1.1 client
  until_close,  // the same for an HTTP/1.0 client: the body ends when we close
};

// Appends the response head for the client and returns how its body must be
// framed. `conn` is what the front door chose for this answer (close,
// keep-alive, HTTP/1.0 keep-alive); `client_http11`: the request's version.
// An until_close body always says Connection: close.
framing write_client_head(const http::response_head& h, http::connection conn, bool client_http11,
                          std::string& out);

// Chunked framing without a copy of the data: begin_chunk() reserves a
// fixed-width size line, the caller appends the data, end_chunk() writes the
// size into it (or takes the line back when nothing was appended).
std::size_t begin_chunk(std::string& out);
void end_chunk(std::string& out, std::size_t mark);
// The last chunk: "0\r\n\r\n".
void write_last_chunk(std::string& out);

}  // namespace tg::server::proxy
