// SPDX-License-Identifier: Apache-2.0
// HTTP/1.1 response serialisation. Protocol core: appends bytes to a buffer the
// caller owns and sends. Problem bodies are RFC 7807 application/problem+json,
// shaped like OpenMeter's: {"type":"about:blank","title":…,"status":…,"detail":…}.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace tg::http {

using header_list = std::span<const std::pair<std::string_view, std::string_view>>;

// close writes "Connection: close"; keep_alive writes nothing (HTTP/1.1
// default); keep_alive_http10 writes "Connection: keep-alive" (HTTP/1.0 needs it).
enum class connection : std::uint8_t { close, keep_alive, keep_alive_http10 };

// "No Content", "Bad Request", …; "Unknown" for codes we never send.
std::string_view reason_phrase(int status);

// A response with no body. For 204 and 1xx no Content-Length is written (RFC
// 9110 forbids it); for other codes "Content-Length: 0".
void write_empty(std::string& out, int status, connection conn, header_list extra = {});

// A response with a body and its Content-Type.
void write_body(std::string& out, int status, std::string_view content_type, std::string_view body,
                connection conn, header_list extra = {});

// application/problem+json with type about:blank, title = reason phrase,
// status and detail (detail omitted when empty). Detail is JSON-escaped.
void write_problem(std::string& out, int status, std::string_view detail, connection conn,
                   header_list extra = {});

// "HTTP/1.1 100 Continue\r\n\r\n"
void write_continue(std::string& out);

// Adds `extra` to the response that starts at out[at], right after its status
// line (for headers a layer around the writer decides, such as CORS).
void insert_headers(std::string& out, std::size_t at, header_list extra);

// For a client that opened with the HTTP/2 connection preface: an empty
// SETTINGS frame (the server preface) and a GOAWAY with error code
// HTTP_1_1_REQUIRED (0xd) and `debug` (truncated to 256 bytes) as its debug
// data, so the client reports why instead of "empty reply" (RFC 9113
// sections 3.4, 6.8 and 7).
void write_h2_goaway(std::string& out, std::string_view debug);

}  // namespace tg::http
