// SPDX-License-Identifier: Apache-2.0
// Writes an accepted event with its receipt time stamped in: the only change
// tollgate ever makes to an event's bytes (see DESIGN.md, "Event ring").
#include <cstring>

#include "tollgate/cloudevents/validator.hpp"

namespace tg::cloudevents {
namespace {

constexpr std::string_view time_key = "\"time\":\"";  // then <now>", inside the '{'

char* put(char* out, const char* p, std::size_t n) noexcept {
  std::memcpy(out, p, n);
  return out + n;
}

}  // namespace

std::size_t stamped_size(const event_ref& ev, std::size_t now_len) noexcept {
  std::size_t size = ev.end - ev.begin;
  switch (ev.fix) {
    case time_fix::none: return size;
    case time_fix::insert: return size + time_key.size() + now_len + 2;  // `",`
    case time_fix::replace_null: return size + now_len + 2 - 4;          // `"<now>"` for `null`
  }
  return size;
}

std::size_t stamp(std::string_view body, const event_ref& ev, std::string_view now, char* out) noexcept {
  const char* src = body.data();
  char* o = out;
  switch (ev.fix) {
    case time_fix::none:
      o = put(o, src + ev.begin, ev.end - ev.begin);
      break;
    case time_fix::insert:
      o = put(o, src + ev.begin, ev.at - ev.begin);
      o = put(o, time_key.data(), time_key.size());
      o = put(o, now.data(), now.size());
      o = put(o, "\",", 2);
      o = put(o, src + ev.at, ev.end - ev.at);
      break;
    case time_fix::replace_null:
      o = put(o, src + ev.begin, ev.at - ev.begin);
      *o++ = '"';
      o = put(o, now.data(), now.size());
      *o++ = '"';
      o = put(o, src + ev.at + 4, ev.end - ev.at - 4);
      break;
  }
  return static_cast<std::size_t>(o - out);
}

}  // namespace tg::cloudevents
