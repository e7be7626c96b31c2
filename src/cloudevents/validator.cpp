// SPDX-License-Identifier: Apache-2.0
// The validator: walks the body once with simdjson On-Demand, checks each event
// against OpenMeter's rules and records its byte range. Keys and string values
// are compared raw (no copy, no allocation); only values with escapes, which are
// rare, are unescaped into the parser's own string buffer.
#include "tollgate/cloudevents/validator.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstring>

#include "event_check.hpp"
#include "fast_path.hpp"
#include "json_scan.hpp"

namespace tg::cloudevents {

namespace sj = simdjson::ondemand;
using simdjson::error_code;

struct validator::impl {
  options opts;
  sj::parser parser;
  detail::event_check check;
  detail::fast_path fast;
  std::string_view body;
  media_type type = media_type::unsupported;

  bool run(std::vector<event_ref>& events, error& err);
  bool run_array(sj::document& doc, std::vector<event_ref>& events, error& err);
  bool fail_shape(sj::document& doc, const char* what, error& err);
  bool fail_json(sj::document* doc, error_code code, error& err);
  bool fail_event(std::int32_t index, bool in_array, error& err);
  std::uint32_t offset(const char* p) const noexcept { return static_cast<std::uint32_t>(p - body.data()); }
};

namespace {

bool fail(error& err, errc code, std::string_view detail) {
  err.code = code;
  err.detail.assign(detail);
  return false;
}

// Whatever follows the root value must be white space: simdjson reports the
// next token's location, or OUT_OF_BOUNDS when there is none.
const char* trailing(sj::document& doc) noexcept {
  const char* loc = nullptr;
  return doc.current_location().get(loc) == simdjson::SUCCESS ? loc : nullptr;
}

}  // namespace

validator::validator(const options& opts) : impl_(std::make_unique<impl>()) { impl_->opts = opts; }

validator::~validator() = default;

bool validator::validate(std::string_view body, media_type type, api version, std::vector<event_ref>& events,
                         error& err) {
  events.clear();
  err.code = errc::none;
  err.index = -1;
  err.detail.clear();
  impl_->body = body;
  impl_->type = type;
  impl_->check.version = version;
  impl_->check.base = body.data();
  // One memchr over the body (tens of bytes per cycle) spares a backslash
  // search in every key and string: bodies from the SDKs rarely hold one.
  impl_->check.escapes = std::memchr(body.data(), '\\', body.size()) != nullptr;
  // The fast path accepts the common body or leaves it, and every rejection,
  // to the general walk below (stage 1 then runs again: rejections are rare).
  if (!impl_->check.escapes && impl_->opts.fast_path &&
      impl_->fast.run(body, type, version, impl_->opts.max_events, events)) {
    return true;
  }
  events.clear();
  if (impl_->run(events, err)) return true;
  events.clear();  // rejected whole: no partial result to act on
  return false;
}

bool validator::impl::run(std::vector<event_ref>& events, error& err) {
  if (type == media_type::unsupported) {
    return fail(err, errc::unsupported_media_type,
                "unsupported Content-Type: use application/cloudevents+json, "
                "application/cloudevents-batch+json or application/json");
  }
  std::size_t first = 0;
  while (first < body.size() && detail::is_ws(body[first])) ++first;
  if (first == body.size()) return fail(err, errc::empty_body, "request body is empty");

  sj::document doc;
  if (auto e = parser.iterate(body.data(), body.size(), body.size() + simdjson::SIMDJSON_PADDING).get(doc)) {
    return fail_json(nullptr, e, err);
  }
  sj::json_type t{};
  if (auto e = doc.type().get(t)) return fail_json(&doc, e, err);

  if (t == sj::json_type::array) {
    if (type == media_type::single) {
      return fail_shape(doc, "request body must be a JSON object for application/cloudevents+json", err);
    }
    return run_array(doc, events, err);
  }
  if (t != sj::json_type::object) {
    return fail_shape(doc,
                      type == media_type::batch
                          ? "request body must be a JSON array for application/cloudevents-batch+json"
                          : (type == media_type::single ? "request body must be a JSON object"
                                                        : "request body must be a JSON object or array"),
                      err);
  }
  if (type == media_type::batch) {
    return fail_shape(doc, "request body must be a JSON array for application/cloudevents-batch+json", err);
  }
  if (opts.max_events == 0) return fail(err, errc::too_many_events, "too many events: at most 0 per request");

  // One event: the whole body, less surrounding white space.
  std::size_t last = body.size();
  while (detail::is_ws(body[last - 1])) --last;
  event_ref ev;
  ev.begin = static_cast<std::uint32_t>(first);
  ev.end = static_cast<std::uint32_t>(last);
  sj::object obj;
  if (auto e = doc.get_object().get(obj)) return fail_json(&doc, e, err);
  if (auto e = check.scan(obj, ev)) return fail_json(&doc, e, err);
  if (const char* extra = trailing(doc)) {
    err.code = errc::malformed_json;
    err.detail = "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(offset(extra));
    return false;
  }
  if (check.failed()) return fail_event(0, false, err);
  events.push_back(ev);
  return true;
}

bool validator::impl::run_array(sj::document& doc, std::vector<event_ref>& events, error& err) {
  sj::array arr;
  if (auto e = doc.get_array().get(arr)) return fail_json(&doc, e, err);
  std::int32_t index = 0;
  for (auto item : arr) {
    if (auto e = item.error()) return fail_json(&doc, e, err);
    sj::value& v = item.value_unsafe();  // in place: a copy would stall (event_check.cpp)
    if (events.size() == opts.max_events) {
      err.code = errc::too_many_events;
      err.detail = "too many events: at most " + std::to_string(opts.max_events) + " per request";
      return false;
    }
    std::string_view tok = v.raw_json_token();
    if (tok.empty() || tok[0] != '{') {
      if (auto e = detail::walk(v, 0, check.escapes)) return fail_json(&doc, e, err);
      err.code = errc::invalid_event;
      err.index = index;
      err.detail = "invalid event at index " + std::to_string(index) + ": event must be a JSON object";
      return false;
    }
    // Filled in place: a local copied in afterwards was reloaded as 16 bytes
    // over four smaller stores, a store-forwarding stall per event. On a
    // rejection validate() clears `events`.
    event_ref& ev = events.emplace_back();
    ev.begin = offset(tok.data());
    sj::object obj;
    if (auto e = v.get_object().get(obj)) return fail_json(&doc, e, err);
    if (auto e = check.scan(obj, ev)) return fail_json(&doc, e, err);
    if (check.failed()) return fail_event(index, true, err);
    // The iterator now stands on the ',' or ']' after the event: its '}' is
    // the last byte before that, white space aside.
    // In a body cut short (no closing brackets) stage 1 may leave the
    // iterator nowhere past the event: that is incomplete JSON, and the walk
    // back must not leave the event's own bytes (found by fuzzing).
    const char* next = trailing(doc);
    if (next == nullptr || next <= tok.data()) return fail_json(&doc, simdjson::INCOMPLETE_ARRAY_OR_OBJECT, err);
    const char* close = next - 1;
    while (close > tok.data() && detail::is_ws(*close)) --close;
    if (*close != '}') return fail_json(&doc, simdjson::INCOMPLETE_ARRAY_OR_OBJECT, err);
    ev.end = offset(close) + 1;
    ++index;
  }
  if (const char* extra = trailing(doc)) {
    err.code = errc::malformed_json;
    err.detail = "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(offset(extra));
    return false;
  }
  if (events.empty() && type == media_type::json) {
    return fail(err, errc::wrong_shape, "invalid event: no events found");
  }
  return true;
}

// The body has the wrong shape; if it is not even JSON, say that instead.
bool validator::impl::fail_shape(sj::document& doc, const char* what, error& err) {
  std::string_view tok;
  if (auto e = doc.raw_json_token().get(tok)) return fail_json(&doc, e, err);
  if (tok[0] == '{' || tok[0] == '[') {
    sj::value root;
    if (auto e = doc.get_value().get(root)) return fail_json(&doc, e, err);
    if (auto e = detail::walk(root, 0, check.escapes)) return fail_json(&doc, e, err);
    if (const char* extra = trailing(doc)) {
      err.code = errc::malformed_json;
      err.detail = "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(offset(extra));
      return false;
    }
  } else {
    // A scalar document: its token must be the whole (trimmed) body.
    std::string_view scalar = detail::trim_token(tok);
    std::string_view rest = detail::trim_token(body.substr(offset(scalar.data())));
    if (rest.size() != scalar.size()) {
      err.code = errc::malformed_json;
      err.detail = "malformed JSON: unexpected data after the JSON value at byte " +
                   std::to_string(offset(scalar.data()) + scalar.size());
      return false;
    }
    if (auto e = detail::check_scalar(scalar, check.escapes)) return fail_json(&doc, e, err);
  }
  return fail(err, errc::wrong_shape, what);
}

// Where the first JSON object or array of the body ends (one past its closing
// bracket), found by counting brackets outside strings; 0 when it does not end.
// Only used to explain an error, so a plain byte loop is fine.
std::size_t first_container_end(std::string_view body, std::size_t first) noexcept {
  if (first >= body.size() || (body[first] != '{' && body[first] != '[')) return 0;
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = first; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return 0;
}

bool validator::impl::fail_json(sj::document* doc, error_code code, error& err) {
  err.code = errc::malformed_json;
  // simdjson reports a complete value followed by more bytes as a document
  // "ended early" before we get to look past the value: say what it is.
  std::size_t first = 0;
  while (first < body.size() && detail::is_ws(body[first])) ++first;
  const bool structural = code == simdjson::INCOMPLETE_ARRAY_OR_OBJECT || code == simdjson::TAPE_ERROR;
  if (const std::size_t end = structural ? first_container_end(body, first) : 0; end != 0) {
    std::size_t next = end;
    while (next < body.size() && detail::is_ws(body[next])) ++next;
    if (next < body.size()) {
      err.detail = "malformed JSON: unexpected data after the JSON value at byte " + std::to_string(next);
      return false;
    }
  }
  err.detail = "malformed JSON: ";
  err.detail += simdjson::error_message(code);
  const char* loc = nullptr;
  if (doc != nullptr && doc->current_location().get(loc) == simdjson::SUCCESS && loc >= body.data() &&
      loc <= body.data() + body.size()) {
    err.detail += " (near byte " + std::to_string(offset(loc)) + ")";
  }
  return false;
}

bool validator::impl::fail_event(std::int32_t index, bool in_array, error& err) {
  err.code = errc::invalid_event;
  err.index = index;
  err.detail = in_array ? "invalid event at index " + std::to_string(index) + ": " : "invalid event: ";
  check.describe(err.detail);
  return false;
}

}  // namespace tg::cloudevents
