// SPDX-License-Identifier: Apache-2.0
// The faults JSON (simdjson On-Demand: bodies are tiny, so it is copied into a
// padded string) and the per-request decision.
#include "faults.hpp"

#include <simdjson.h>

#include <charconv>

#include "tollgate/base/json_escape.hpp"

namespace tg::sink {
namespace {
namespace od = simdjson::ondemand;

std::string bad(std::string_view key, std::string_view why) {
  return "faults: \"" + std::string(key) + "\" " + std::string(why);
}

// Header values may not carry control characters (a CR/LF would split the response).
bool header_safe(std::string_view v) {
  for (const char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool read_count(od::value v, std::uint64_t hi, std::uint64_t& out) {
  std::uint64_t n = 0;
  if (v.get_uint64().get(n) != simdjson::SUCCESS || n > hi) return false;
  out = n;
  return true;
}

bool read_ratio(od::value v, double& out) {
  double d = 0;
  if (v.get_double().get(d) != simdjson::SUCCESS || !(d >= 0.0 && d <= 1.0)) return false;
  out = d;
  return true;
}

// A string, or null ("" = off); Retry-After also takes a number of seconds.
bool read_text(od::value v, bool number_ok, std::string& out) {
  od::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  if (t == od::json_type::null) {
    out.clear();
    return true;
  }
  if (t == od::json_type::number && number_ok) {
    std::uint64_t n = 0;
    if (v.get_uint64().get(n) != simdjson::SUCCESS) return false;
    out = std::to_string(n);
    return true;
  }
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  out = std::string(s);
  return true;
}

void append_number(std::string& out, double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  (void)ec;
  out.append(buf, end);
}

}  // namespace

result<faults, std::string> merge_faults_json(std::string_view json, const faults& base) {
  faults f = base;
  const simdjson::padded_string padded(json);
  od::parser parser;
  od::document doc;
  od::object obj;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj) != simdjson::SUCCESS)
    return unexpected(std::string("faults: the body must be a JSON object"));
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS || field.value().get(v) != simdjson::SUCCESS)
      return unexpected(std::string("faults: malformed JSON"));
    // fail_* are accepted as aliases, named like the --fail-* flags.
    if (key == "fail_status") key = "status";
    else if (key == "fail_count") key = "status_count";
    else if (key == "fail_ratio") key = "status_ratio";
    if (key == "latency_ms") {
      if (!read_count(v, max_latency_ms, f.latency_ms)) return unexpected(bad(key, "must be an integer 0..3600000"));
    } else if (key == "status") {
      std::uint64_t s = 0;
      if (!read_count(v, 599, s) || s < 200) return unexpected(bad(key, "must be an HTTP status 200..599"));
      f.status = static_cast<int>(s);
    } else if (key == "status_count") {
      if (!read_count(v, UINT64_MAX, f.status_count)) return unexpected(bad(key, "must be a non-negative integer"));
    } else if (key == "status_ratio") {
      if (!read_ratio(v, f.status_ratio)) return unexpected(bad(key, "must be a number 0..1"));
    } else if (key == "retry_after") {
      if (!read_text(v, true, f.retry_after) || !header_safe(f.retry_after))
        return unexpected(bad(key, "must be a string without control characters, a number of seconds, or null"));
    } else if (key == "reject_id_prefix") {
      if (!read_text(v, false, f.reject_id_prefix)) return unexpected(bad(key, "must be a string or null"));
    } else if (key == "drop_count") {
      if (!read_count(v, UINT64_MAX, f.drop_count)) return unexpected(bad(key, "must be a non-negative integer"));
    } else if (key == "drop_ratio") {
      if (!read_ratio(v, f.drop_ratio)) return unexpected(bad(key, "must be a number 0..1"));
    } else {
      return unexpected(bad(key, "is not a known field (latency_ms, status, status_count, status_ratio, "
                                 "retry_after, reject_id_prefix, drop_count, drop_ratio)"));
    }
  }
  // Whatever follows the object must be white space: simdjson gives the next
  // token's location, or an error when there is none.
  const char* extra = nullptr;
  if (doc.current_location().get(extra) == simdjson::SUCCESS) return unexpected(std::string("faults: malformed JSON"));
  return f;
}

std::string faults_json(const faults& f) {
  std::string out = "{\"latency_ms\":" + std::to_string(f.latency_ms) + ",\"status\":" + std::to_string(f.status) +
                    ",\"status_count\":" + std::to_string(f.status_count) + ",\"status_ratio\":";
  append_number(out, f.status_ratio);
  out += ",\"retry_after\":\"";
  append_json_escaped(out, f.retry_after);
  out += "\",\"reject_id_prefix\":\"";
  append_json_escaped(out, f.reject_id_prefix);
  out += "\",\"drop_count\":" + std::to_string(f.drop_count) + ",\"drop_ratio\":";
  append_number(out, f.drop_ratio);
  out += "}";
  return out;
}

action decide(faults& f, double u_drop, double u_fail) noexcept {
  if (f.drop_count > 0) {
    --f.drop_count;
    return action::drop;
  }
  if (f.drop_ratio > 0 && u_drop < f.drop_ratio) return action::drop;
  if (f.status_count > 0) {
    --f.status_count;
    return action::fail;
  }
  if (f.status_ratio > 0 && u_fail < f.status_ratio) return action::fail;
  return action::pass;
}

}  // namespace tg::sink
