// SPDX-License-Identifier: Apache-2.0
// Canned answers and the record of calls to the rest of /api/.
#include "api_recorder.hpp"

#include <charconv>

#include "tollgate/base/json_escape.hpp"

namespace tg::sink {
namespace {

void json_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped(out, s);
  out += '"';
}

std::string meters_list() {
  std::string out = "[";
  for (int i = 0; i < 8; ++i) {
    if (i > 0) out += ',';
    const std::string n = std::to_string(i);
    out += "{\"id\":\"01J0000000000000000000000" + n + "\",\"slug\":\"meter_" + n +
           "\",\"name\":\"Meter " + n +
           "\",\"description\":\"Tokens used, summed per hour\",\"aggregation\":\"SUM\","
           "\"eventType\":\"prompt\",\"valueProperty\":\"$.tokens\",\"groupBy\":{\"model\":\"$.model\",\"type\":"
           "\"$.type\"},\"createdAt\":\"2024-01-01T00:00:00Z\",\"updatedAt\":\"2024-01-01T00:00:00Z\"}";
  }
  out += "]";
  return out;
}

bool number_after(std::string_view path, std::string_view prefix, std::size_t& n) {
  if (!path.starts_with(prefix)) return false;
  const std::string_view digits = path.substr(prefix.size());
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && p == digits.data() + digits.size() && n <= (64u << 20);
}

}  // namespace

void api_recorder::record(const http::request& req) {
  api_call c;
  c.method.assign(req.method_name);
  c.target.assign(req.target);
  c.authorization.assign(req.authorization);
  for (const auto& [k, v] : req.headers()) c.headers.emplace_back(std::string(k), std::string(v));
  c.body.assign(req.body.substr(0, max_body_bytes));
  std::lock_guard<std::mutex> lock(m_);
  if (calls_.size() >= max_calls) calls_.pop_front();
  calls_.push_back(std::move(c));
}

std::string api_recorder::json() {
  std::string out = "[";
  std::lock_guard<std::mutex> lock(m_);
  for (std::size_t i = 0; i < calls_.size(); ++i) {
    const api_call& c = calls_[i];
    if (i > 0) out += ',';
    out += "{\"method\":";
    json_string(out, c.method);
    out += ",\"target\":";
    json_string(out, c.target);
    out += ",\"authorization\":";
    json_string(out, c.authorization);
    out += ",\"headers\":[";
    for (std::size_t h = 0; h < c.headers.size(); ++h) {
      if (h > 0) out += ',';
      out += '[';
      json_string(out, c.headers[h].first);
      out += ',';
      json_string(out, c.headers[h].second);
      out += ']';
    }
    out += "],\"body\":";
    json_string(out, c.body);
    out += '}';
  }
  out += "]\n";
  return out;
}

void api_recorder::clear() {
  std::lock_guard<std::mutex> lock(m_);
  calls_.clear();
}

std::size_t api_recorder::size() {
  std::lock_guard<std::mutex> lock(m_);
  return calls_.size();
}

canned canned_answer(std::string_view method, std::string_view path) {
  canned c;
  const bool get = method == "GET" || method == "HEAD";
  std::size_t n = 0;
  if (get && path == "/api/v1/meters") {
    c.body = meters_list();
  } else if (get && path == "/api/v1/meters/missing") {
    c.status = 404;
    c.content_type = "application/problem+json";
    c.body = "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,\"detail\":\"meter not found: missing\"}";
  } else if ((get || method == "POST") && path.starts_with("/api/v1/meters/") && path.ends_with("/query")) {
    c.body =
        "{\"from\":\"2024-01-01T00:00:00Z\",\"to\":\"2024-01-02T00:00:00Z\",\"windowSize\":\"HOUR\",\"data\":[{\"value\":"
        "42,\"windowStart\":\"2024-01-01T00:00:00Z\",\"windowEnd\":\"2024-01-01T01:00:00Z\",\"subject\":\"customer-1\","
        "\"groupBy\":{\"model\":\"gpt-4\"}}]}";
  } else if (get && path == "/api/v1/events") {
    c.body =
        "[{\"event\":{\"id\":\"listed-1\",\"source\":\"svc\",\"specversion\":\"1.0\",\"type\":\"prompt\",\"subject\":"
        "\"customer-1\",\"time\":\"2024-01-01T00:00:00Z\",\"data\":{\"tokens\":7}},\"ingestedAt\":"
        "\"2024-01-01T00:00:01Z\",\"storedAt\":\"2024-01-01T00:00:02Z\"}]";
  } else if (method == "POST" && path == "/api/v1/portal/tokens") {
    c.status = 201;
    c.body = "{\"id\":\"portal-1\",\"subject\":\"customer-1\",\"token\":\"om_portal_canned\",\"expiresAt\":"
             "\"2030-01-01T00:00:00Z\"}";
  } else if (get && number_after(path, "/api/test/bytes/", n)) {
    c.body.assign(1, '"').append(n < 2 ? 0 : n - 2, 'x').push_back('"');
  } else if (get && number_after(path, "/api/test/chunked/", n)) {
    c.chunked_bytes = n;
  } else {
    c.body = "{\"method\":";
    json_string(c.body, method);
    c.body += ",\"path\":";
    json_string(c.body, path);
    c.body += "}";
  }
  return c;
}

}  // namespace tg::sink
