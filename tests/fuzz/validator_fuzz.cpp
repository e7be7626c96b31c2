// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the CloudEvents validator, every input as a body under all
// three media types and both APIs, with the server's zero padding and with
// hostile padding. The JSON oracle (issue 16): an accepted body must be JSON
// by the reference recognizer, and so must each accepted event's byte range,
// stamped with a receipt time as the server writes it out. And the fast path
// (src/cloudevents/fast_path.hpp) must change nothing: the general walk alone
// gives the same outcome, events and detail.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "json_reference.hpp"
#include "tollgate/cloudevents/validator.hpp"

using namespace tg::cloudevents;

namespace {

[[noreturn]] void fail(const char* what, std::string_view body, media_type t) {
  std::fprintf(stderr, "%s (media type %d): %.*s\n", what, static_cast<int>(t), static_cast<int>(body.size()),
               body.data());
  std::abort();
}

validator& general() {
  static validator g([] {
    options o;
    o.fast_path = false;
    return o;
  }());
  return g;
}

void check(validator& v, std::string_view body, media_type t, api version) {
  std::vector<event_ref> events;
  error err;
  const bool ok = v.validate(body, t, version, events, err);
  std::vector<event_ref> g_events;
  error g_err;
  if (general().validate(body, t, version, g_events, g_err) != ok) fail("the fast path changed the verdict", body, t);
  if (g_err.code != err.code || g_err.index != err.index || g_err.detail != err.detail) {
    fail("the fast path changed the error", body, t);
  }
  if (g_events.size() != events.size()) fail("the fast path changed the events", body, t);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const event_ref &a = events[i], &b = g_events[i];
    if (a.begin != b.begin || a.end != b.end || a.fix != b.fix || a.at != b.at) {
      fail("the fast path changed an event", body, t);
    }
  }
  if (!ok) {
    if (!events.empty()) fail("rejected with events left", body, t);
    return;
  }
  if (!tg::test::json_reference::valid(body)) fail("accepted a body that is not JSON", body, t);
  if (t == media_type::single && events.size() != 1) fail("not one event for a single object", body, t);
  std::uint32_t prev_end = 0;
  std::string out;
  for (const event_ref& ev : events) {
    if (ev.begin < prev_end || ev.end <= ev.begin || ev.end > body.size()) fail("bad event range", body, t);
    prev_end = ev.end;
    out.resize(stamped_size(ev));
    if (stamp(body, ev, "2026-11-27T09:10:08.123Z", out.data()) != out.size()) fail("stamp size", body, t);
    if (!tg::test::json_reference::valid(out)) fail("an accepted event, stamped, is not JSON", body, t);
    if (out.front() != '{') fail("an accepted event is not an object", body, t);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static validator v;  // reused across inputs, as a shard reuses its own
  static std::string buf;
  for (const char pad : {'\0', '}'}) {
    buf.assign(reinterpret_cast<const char*>(data), size);
    buf.append(64, pad);
    const std::string_view body(buf.data(), size);
    for (media_type t : {media_type::single, media_type::batch, media_type::json}) {
      check(v, body, t, api::v1);
      check(v, body, t, api::v3);
    }
  }
  return 0;
}
