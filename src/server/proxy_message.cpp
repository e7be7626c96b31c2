// SPDX-License-Identifier: Apache-2.0
// Message rewriting for the pass-through (proxy_message.hpp).
#include "proxy_message.hpp"

#include "tollgate/http/text.hpp"

#include <array>
#include <cstdio>

namespace tg::server::proxy {
namespace {
using http::iequals;
using http::trim_ows;

using field = std::pair<std::string_view, std::string_view>;

// True when any Connection field of `fields` names `name`.
template <class Fields>
bool named_by_any(const Fields& fields, std::string_view name) {
  for (const field& f : fields)
    if (iequals(f.first, "connection") && named_in_connection(f.second, name)) return true;
  return false;
}

// Every value of `name`, joined by ", " (a list field may come in several lines).
template <class Fields>
std::string joined(const Fields& fields, std::string_view name) {
  std::string out;
  for (const field& f : fields) {
    if (!iequals(f.first, name) || f.second.empty()) continue;
    if (!out.empty()) out += ", ";
    out += f.second;
  }
  return out;
}

void add_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// A quoted-string (RFC 9110 section 5.6.4) for Forwarded's host=.
void append_quoted(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

// The fields tollgate writes itself (or drops) on the way up.
bool rewritten_upstream(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 7> names = {
      "host", "content-length", "expect", "x-forwarded-for", "forwarded", "via", "transfer-encoding"};
  for (std::string_view n : names)
    if (iequals(name, n)) return true;
  return false;
}

}  // namespace

bool hop_by_hop(std::string_view name) noexcept {
  static constexpr std::array<std::string_view, 9> names = {
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
      "proxy-authorization", "proxy-authenticate"};
  for (std::string_view n : names)
    if (iequals(name, n)) return true;
  return false;
}

bool named_in_connection(std::string_view value, std::string_view name) noexcept {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (iequals(trim_ows(value.substr(0, comma)), name)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

void write_upstream_request(const http::request& req, std::string_view prefix, std::string_view host_header,
                            std::string_view peer, std::string& out) {
  const auto fields = req.headers();
  out.append(req.method_name).append(" ").append(prefix).append(req.target).append(" HTTP/1.1\r\n");
  add_field(out, "Host", host_header);
  for (const field& f : fields) {
    if (hop_by_hop(f.first) || rewritten_upstream(f.first) || named_by_any(fields, f.first)) continue;
    add_field(out, f.first, f.second);
  }
  std::string via = joined(fields, "via");
  add_field(out, "Via", via.empty() ? std::string("1.1 tollgate") : via + ", 1.1 tollgate");
  std::string xff = joined(fields, "x-forwarded-for");
  add_field(out, "X-Forwarded-For", xff.empty() ? std::string(peer) : xff + ", " + std::string(peer));
  // Forwarded (RFC 7239): an IPv6 address is bracketed and quoted.
  std::string fwd = joined(fields, "forwarded");
  if (!fwd.empty()) fwd += ", ";
  fwd += "for=";
  if (peer.find(':') != std::string_view::npos) fwd.append("\"[").append(peer).append("]\"");
  else fwd.append(peer);
  const std::string_view host = req.header("host");
  if (!host.empty()) {
    fwd += ";host=";
    append_quoted(fwd, host);
  }
  add_field(out, "Forwarded", fwd);
  // The parser assembled the whole body: it goes with its exact length, and
  // the upstream never sees a chunked request or waits for 100 Continue.
  const bool framed = req.has_content_length || req.chunked || !req.body.empty();
  if (framed) {
    char len[32];
    std::snprintf(len, sizeof len, "%zu", req.body.size());
    add_field(out, "Content-Length", len);
  }
  out += "\r\n";
  out.append(req.body);
}

framing write_client_head(const http::response_head& h, http::connection conn, bool client_http11,
                          std::string& out) {
  framing f = framing::length;
  if (h.no_body) f = framing::none;
  else if (h.chunked || h.body_until_close) f = client_http11 ? framing::chunked : framing::until_close;
  char line[32];
  std::snprintf(line, sizeof line, "HTTP/1.1 %d ", h.status);
  out += line;
  out.append(h.reason.empty() ? http::reason_phrase(h.status) : h.reason).append("\r\n");
  for (const field& f2 : h.headers) {
    if (hop_by_hop(f2.first) || named_by_any(h.headers, f2.first)) continue;
    // A re-framed body has no length of the upstream's to keep.
    if ((f == framing::chunked || f == framing::until_close) && iequals(f2.first, "content-length")) continue;
    add_field(out, f2.first, f2.second);
  }
  if (f == framing::chunked) add_field(out, "Transfer-Encoding", "chunked");
  if (f == framing::until_close || conn == http::connection::close) add_field(out, "Connection", "close");
  else if (conn == http::connection::keep_alive_http10) add_field(out, "Connection", "keep-alive");
  out += "\r\n";
  return f;
}

namespace {
constexpr std::size_t size_digits = 8;  // hex; leading zeros are allowed in a chunk size
}

std::size_t begin_chunk(std::string& out) {
  const std::size_t mark = out.size();
  out.append(size_digits, '0').append("\r\n");
  return mark;
}

void end_chunk(std::string& out, std::size_t mark) {
  const std::size_t n = out.size() - mark - size_digits - 2;
  if (n == 0) {
    out.resize(mark);
    return;
  }
  // One feed appends far less than 4 GiB; the size line has room for 8 digits.
  char digits[24];
  std::snprintf(digits, sizeof digits, "%08zx", n & 0xFFFFFFFFu);
  out.replace(mark, size_digits, digits, size_digits);
  out += "\r\n";
}

void write_last_chunk(std::string& out) { out += "0\r\n\r\n"; }

}  // namespace tg::server::proxy
