// SPDX-License-Identifier: Apache-2.0
// Per-attribute rules for one CloudEvent (INGEST_API.md §2, DESIGN.md's
// deliberate differences). Every value is checked as JSON down to its last
// byte, because the event is forwarded byte for byte and must not be refused
// upstream after tollgate has answered 204.
#include "event_check.hpp"

#include <cmath>
#include <cstring>

#include "attr.hpp"
#include "json_scan.hpp"
#include "rfc3339.hpp"
#include "uri_ref.hpp"

namespace tg::cloudevents::detail {

using simdjson::error_code;
using simdjson::SUCCESS;

namespace {

// A value echoed in a detail: bounded, since it is the client's.
std::string_view echo(std::string_view s) noexcept { return s.substr(0, 128); }

}  // namespace

error_code check_scalar(std::string_view tok, bool escapes) noexcept {
  switch (tok.empty() ? '\0' : tok[0]) {
    case '"': return !escapes || valid_escapes(string_body(tok)) ? SUCCESS : simdjson::STRING_ERROR;
    case 't': return tok == "true" ? SUCCESS : simdjson::T_ATOM_ERROR;
    case 'f': return tok == "false" ? SUCCESS : simdjson::F_ATOM_ERROR;
    case 'n': return tok == "null" ? SUCCESS : simdjson::N_ATOM_ERROR;
    case '{': case '}': case '[': case ']': case ',': case ':': case '\0': return simdjson::TAPE_ERROR;
    default: return valid_number(tok) ? SUCCESS : simdjson::NUMBER_ERROR;
  }
}

namespace {

// Marks a string value consumed. Every string value the validator checks is
// consumed or passes not_a_key() below: left to the enclosing iteration as it
// is, simdjson 3.0.1 skips it with skip_child(), which takes a string followed
// by ':' for a key and then only counts brackets, so `"subject":"t":}}` would
// pass as JSON (issue 16). A consumed string leaves the ':' to the next
// has_next_field() / has_next_element(), which refuse it. In `data` this is
// also cheaper than the skip (~3% of a batch). Other scalars are safe to
// leave: skip_child() steps over exactly one token for them.
[[gnu::always_inline]] inline error_code consume_string(sj::value& v) noexcept {
  sj::raw_json_string unused;
  return v.get_raw_json_string().get(unused);
}

// A string value left unconsumed, for the enclosing iteration to skip: it must
// not be followed by ':' (see consume_string()). A token runs to the next
// token, so that is the byte just past it; checking it costs less than
// consuming (one load the cache already holds), which shows on the five
// top-level strings of every event.
[[gnu::always_inline]] inline error_code not_a_key(std::string_view tok) noexcept {
  return tok.data()[tok.size()] == ':' ? simdjson::TAPE_ERROR : SUCCESS;
}

// A scalar's raw token: a string needs no trimming (stage 1 ends the token at
// its closing quote, white space aside, and only escapes are left to check).
inline error_code scalar_token(std::string_view tok, bool escapes) noexcept {
  if (tok[0] == '"') return !escapes || valid_escapes(string_body(tok)) ? SUCCESS : simdjson::STRING_ERROR;
  return check_scalar(trim_token(tok), escapes);
}

}  // namespace

error_code walk(sj::value& v, unsigned depth, bool escapes) noexcept {
  std::string_view tok = v.raw_json_token();
  if (tok[0] == '{') {
    if (depth >= max_depth) return simdjson::DEPTH_ERROR;
    sj::object obj;
    SIMDJSON_TRY(v.get_object().get(obj));
    for (auto item : obj) {
      SIMDJSON_TRY(item.error());
      sj::field& field = item.value_unsafe();  // no copy: see scan()
      sj::value& fv = field.value();
      std::string_view ftok = fv.raw_json_token();
      if (escapes && !valid_escapes(raw_key(field.key().raw(), ftok.data()))) return simdjson::STRING_ERROR;
      // Scalars, the common `data` member, are checked here rather than in a
      // recursive call per member (a call, a reload of the iterator).
      if (ftok[0] == '{' || ftok[0] == '[') {
        SIMDJSON_TRY(walk(fv, depth + 1, escapes));
      } else if (ftok[0] == '"') {
        if (escapes && !valid_escapes(string_body(ftok))) return simdjson::STRING_ERROR;
        SIMDJSON_TRY(consume_string(fv));
      } else {
        SIMDJSON_TRY(scalar_token(ftok, escapes));
      }
    }
    return SUCCESS;
  }
  if (tok[0] == '[') {
    if (depth >= max_depth) return simdjson::DEPTH_ERROR;
    sj::array arr;
    SIMDJSON_TRY(v.get_array().get(arr));
    for (auto item : arr) {
      SIMDJSON_TRY(item.error());
      sj::value& iv = item.value_unsafe();
      std::string_view itok = iv.raw_json_token();
      if (itok[0] == '{' || itok[0] == '[') {
        SIMDJSON_TRY(walk(iv, depth + 1, escapes));
      } else {
        SIMDJSON_TRY(scalar_token(itok, escapes));
        if (itok[0] == '"') SIMDJSON_TRY(consume_string(iv));
      }
    }
    return SUCCESS;
  }
  // Any other scalar left unconsumed is stepped over by the enclosing
  // iteration; a string must not be (consume_string()).
  SIMDJSON_TRY(scalar_token(tok, escapes));
  return tok[0] == '"' ? consume_string(v) : SUCCESS;
}

void event_check::reset() noexcept {
  for (auto& p : req_) p = problem::missing;
  seen_ = 0;
  other_ = false;
}

void event_check::set_problem(std::string_view a, std::string_view b, std::string_view c) {
  if (other_) return;  // the first one met is the one reported
  other_ = true;
  other_msg_.assign(a);
  other_msg_.append(b);
  other_msg_.append(c);
}

void event_check::describe(std::string& out) const {
  for (unsigned i = 0; i < required_count; ++i) {
    std::string_view name = attr_name[i];
    switch (req_[i]) {
      case problem::ok: continue;
      case problem::missing: out.append(name).append(" is missing"); return;
      case problem::not_string: out.append(name).append(" must be a string"); return;
      case problem::empty: out.append(name).append(" must not be empty"); return;
      case problem::null: out.append(name).append(" must not be null"); return;
      case problem::bad_value:
        out.append(i == a_specversion ? "specversion must be 1.0 or 0.3, got \""
                                      : "source must be a valid URI reference, got \"");
        out.append(echo(bad_[i])).append("\"");
        return;
    }
  }
  if (other_) out.append(other_msg_);
}

error_code event_check::scan(sj::object& obj, event_ref& ev) {
  reset();
  // No `time`: it is inserted right after the '{'.
  ev.fix = time_fix::insert;
  ev.at = ev.begin + 1;
  for (auto item : obj) {
    // Used in place: moving the field out costs a copy whose 16-byte reload
    // misses store forwarding (a measurable stall per attribute).
    SIMDJSON_TRY(item.error());
    sj::field& field = item.value_unsafe();
    sj::value& v = field.value();
    std::string_view tok = v.raw_json_token();
    std::string_view key = raw_key(field.key().raw(), tok.data());
    attr a = lookup(key);
    if (a == a_extension && escapes && has_backslash(key)) {  // rare: "\u0069d" is "id"
      SIMDJSON_TRY(field.unescaped_key().get(key));
      a = lookup(key);
    }
    if (a == a_extension) {
      SIMDJSON_TRY(extension(key, v, tok));
      continue;
    }
    // A second `time` would be stamped over or kept at random; a second
    // specversion is refused by sdk-go. Refuse every repeated attribute.
    if (seen_ & (1u << a)) {
      SIMDJSON_TRY(walk(v, 0, escapes));
      set_problem("duplicate attribute \"", key, "\"");
      continue;
    }
    seen_ = static_cast<std::uint16_t>(seen_ | (1u << a));
    // id, type and subject only need to be non-empty strings: inline, the
    // common case skips the call to required(). The body is empty exactly
    // when the opening quote is followed by the closing one.
    constexpr unsigned any_string = 1u << a_id | 1u << a_type | 1u << a_subject;
    if ((any_string >> a & 1u) != 0 && !escapes && tok[0] == '"' && tok[1] != '"') {
      req_[a] = problem::ok;
      SIMDJSON_TRY(not_a_key(tok));
      continue;
    }
    SIMDJSON_TRY(a < required_count ? required(a, v, tok) : optional(a, v, tok, ev));
  }
  return SUCCESS;
}

error_code event_check::required(unsigned i, sj::value& v, std::string_view tok) {
  if (tok[0] != '"') {
    SIMDJSON_TRY(walk(v, 0, escapes));
    req_[i] = tok[0] == 'n' ? problem::null : problem::not_string;
    return SUCCESS;
  }
  std::string_view s = string_body(tok);
  if (escapes && has_backslash(s) && (i == a_source || i == a_specversion)) {
    SIMDJSON_TRY(v.get_string().get(s));  // unescaped, and consumed
  } else {
    SIMDJSON_TRY(not_a_key(tok));
  }
  if (s.empty()) {
    req_[i] = problem::empty;
    return SUCCESS;
  }
  if (i == a_source || i == a_specversion) {
    bool good = i == a_specversion ? (s == "1.0" || s == "0.3") : valid_uri_reference(s);
    if (!good) {
      req_[i] = problem::bad_value;
      bad_[i] = s;
      return SUCCESS;
    }
  } else if (escapes && !valid_escapes(s)) {
    return simdjson::STRING_ERROR;
  }
  req_[i] = problem::ok;
  return SUCCESS;
}

error_code event_check::optional(unsigned a, sj::value& v, std::string_view tok, event_ref& ev) {
  const char c = tok[0];
  if (c == 'n') {  // null is allowed for every optional attribute but data_base64
    SIMDJSON_TRY(walk(v, 0, escapes));
    if (a == a_time) {
      ev.fix = time_fix::replace_null;
      ev.at = static_cast<std::uint32_t>(tok.data() - base);
    }
    if (a == a_data_base64) set_problem("data_base64 is not supported; send data as a JSON object");
    return SUCCESS;
  }
  if (a == a_data) {
    SIMDJSON_TRY(walk(v, 0, escapes));
    if (c != '{') set_problem("data must be a JSON object or null");
    return SUCCESS;
  }
  if (a == a_data_base64) {
    SIMDJSON_TRY(walk(v, 0, escapes));
    set_problem("data_base64 is not supported; send data as a JSON object");
    return SUCCESS;
  }
  if (c != '"') {
    SIMDJSON_TRY(walk(v, 0, escapes));
    set_problem(attr_name[a], a == a_time ? " must be a string" : " must be a string or null");
    return SUCCESS;
  }
  std::string_view s = string_body(tok);
  if (escapes && has_backslash(s)) {
    SIMDJSON_TRY(v.get_string().get(s));  // unescaped, and consumed
  } else {
    SIMDJSON_TRY(not_a_key(tok));
  }
  switch (a) {
    case a_time:
      ev.fix = time_fix::none;
      if (!valid_rfc3339(s)) {
        set_problem("time must be an RFC 3339 date-time such as \"2023-01-01T00:00:00Z\", got \"", echo(s), "\"");
      }
      break;
    case a_datacontenttype:
      if (s != "application/json") {
        set_problem("datacontenttype must be \"application/json\" or null, got \"", echo(s), "\"");
      }
      break;
    default:  // dataschema
      if (s.empty()) set_problem("dataschema must not be empty");
      break;
  }
  return SUCCESS;
}

error_code event_check::extension(std::string_view name, sj::value& v, std::string_view tok) {
  if (version == api::v3) {
    SIMDJSON_TRY(walk(v, 0, escapes));
    set_problem("property \"", echo(name), "\" is unsupported");
    return SUCCESS;
  }
  bool good_name = !name.empty();
  for (char c : name) good_name = good_name && is_alnum(c);
  if (!good_name) {
    SIMDJSON_TRY(walk(v, 0, escapes));
    set_problem("attribute name \"", echo(name), "\" must consist of letters a-z, A-Z and digits 0-9 only");
    return SUCCESS;
  }
  // sdk-go keeps an extension only as a string, a boolean, an int32 or null.
  const char c = tok[0];
  if (c == '-' || is_digit(c)) {
    SIMDJSON_TRY(check_scalar(trim_token(tok), escapes));
    double d = 0;
    SIMDJSON_TRY(v.get_double().get(d));
    if (d != std::trunc(d) || d < -2147483648.0 || d > 2147483647.0) {
      set_problem("attribute \"", echo(name), "\" must be an integer within int32 range");
    }
    return SUCCESS;
  }
  SIMDJSON_TRY(walk(v, 0, escapes));
  if (c == '{' || c == '[') {
    set_problem("attribute \"", echo(name), "\" must be a string, a boolean, an integer or null");
  }
  return SUCCESS;
}

}  // namespace tg::cloudevents::detail
