// SPDX-License-Identifier: Apache-2.0
// Response serialisation for the hot path: appends to the caller's buffer with
// no Date or Server header and no formatting library, so a 204 is a handful of
// memcpys and no allocation once the buffer has capacity.
#include "tollgate/http/response.hpp"

#include <charconv>

#include "tollgate/base/json_escape.hpp"

namespace tg::http {
namespace {

void append_status_line(std::string& out, int status) {
  char code[16];
  auto [end, ec] = std::to_chars(code, code + sizeof code, status);
  (void)ec;  // 16 bytes hold any int
  out.append("HTTP/1.1 ", 9);
  out.append(code, end);
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\n", 2);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(value);
  out.append("\r\n", 2);
}

void append_content_length(std::string& out, std::size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  (void)ec;
  out.append("Content-Length: ", 16);
  out.append(digits, end);
  out.append("\r\n", 2);
}

void append_tail(std::string& out, connection conn, header_list extra) {
  if (conn == connection::close)
    out.append("Connection: close\r\n", 19);
  else if (conn == connection::keep_alive_http10)
    out.append("Connection: keep-alive\r\n", 24);
  for (const auto& [name, value] : extra) append_header(out, name, value);
  out.append("\r\n", 2);
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

void write_empty(std::string& out, int status, connection conn, header_list extra) {
  append_status_line(out, status);
  // RFC 9110 section 8.6: no Content-Length in a 1xx or 204.
  if (status != 204 && (status < 100 || status > 199)) out.append("Content-Length: 0\r\n", 19);
  append_tail(out, conn, extra);
}

void write_body(std::string& out, int status, std::string_view content_type, std::string_view body,
                connection conn, header_list extra) {
  append_status_line(out, status);
  append_header(out, "Content-Type", content_type);
  append_content_length(out, body.size());
  append_tail(out, conn, extra);
  out.append(body);
}

void write_problem(std::string& out, int status, std::string_view detail, connection conn,
                   header_list extra) {
  // The body is built in place after the head, then its length is written
  // into a Content-Length field reserved with the widest value it can take.
  append_status_line(out, status);
  out.append("Content-Type: application/problem+json\r\nContent-Length: ", 56);
  std::size_t len_at = out.size();
  out.append("                    \r\n", 22);  // 20 columns hold any size_t
  append_tail(out, conn, extra);
  std::size_t body_at = out.size();
  out.append(R"({"type":"about:blank","title":")");
  out.append(reason_phrase(status));
  out.append(R"(","status":)");
  char code[16];
  auto [end, ec] = std::to_chars(code, code + sizeof code, status);
  (void)ec;
  out.append(code, end);
  if (!detail.empty()) {
    out.append(R"(,"detail":")");
    append_json_escaped(out, detail);
    out.push_back('"');
  }
  out.push_back('}');

  char digits[24];
  auto [dend, dec] = std::to_chars(digits, digits + sizeof digits, out.size() - body_at);
  (void)dec;
  std::size_t n = static_cast<std::size_t>(dend - digits);
  out.replace(len_at, 20, digits, n);  // shifts the rest left by 20 - n bytes
}

void write_continue(std::string& out) { out.append("HTTP/1.1 100 Continue\r\n\r\n", 25); }

void insert_headers(std::string& out, std::size_t at, header_list extra) {
  const std::size_t eol = out.find("\r\n", at);
  if (eol == std::string::npos || extra.empty()) return;
  std::string lines;
  for (const auto& [name, value] : extra) append_header(lines, name, value);
  out.insert(eol + 2, lines);
}

void write_h2_goaway(std::string& out, std::string_view debug) {
  constexpr unsigned char settings[9] = {0, 0, 0, 0x4, 0, 0, 0, 0, 0};
  out.append(reinterpret_cast<const char*>(settings), sizeof settings);
  debug = debug.substr(0, 256);
  const std::size_t len = 8 + debug.size();
  const unsigned char head[17] = {
      static_cast<unsigned char>(len >> 16), static_cast<unsigned char>(len >> 8), static_cast<unsigned char>(len),
      0x7, 0,           // GOAWAY, no flags
      0, 0, 0, 0,       // stream 0
      0, 0, 0, 0,       // last stream id: none was processed
      0, 0, 0, 0xd,     // HTTP_1_1_REQUIRED
  };
  out.append(reinterpret_cast<const char*>(head), sizeof head);
  out.append(debug);
}

}  // namespace tg::http
