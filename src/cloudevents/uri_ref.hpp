// SPDX-License-Identifier: Apache-2.0
// The `source` attribute check: an RFC 3986 URI reference, in the places where
// Go's url.Parse (which OpenMeter's CloudEvents decoder calls) would fail, plus
// white space and control characters, which no URI may hold.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tg::cloudevents::detail {

// Accepts "api-gateway", "@openmeter/sdk", "https://github.com/cloudevents",
// "mailto:x@y", "urn:uuid:…", "/a/b", "1-555-123-4567". Refuses ":bad" (a
// colon before any '/' that does not end a valid scheme), "%zz", "%4", bytes
// <= 0x20 and 0x7f, an unclosed "[" host and a non-numeric port.
bool uri_reference_general(std::string_view s) noexcept;  // the full check, below

// Byte classes as bit flags, so that a whole string's classes can be OR-ed.
namespace uri_class {
enum : std::uint8_t { plain = 0, refused = 1, percent = 2, delimiter = 4 };
inline constexpr auto byte_class = [] {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c <= 0x20; ++c) t[c] = refused;
  t[0x7f] = refused;
  t['%'] = percent;
  for (char c : {':', '/', '?', '#'}) t[static_cast<unsigned char>(c)] = delimiter;
  return t;
}();
}  // namespace uri_class

// Inline, as it runs once per event. Common case first: a plain name such as
// "api-gateway" (no delimiter, no escape, nothing refused) is valid. OR-ing
// the classes has no branch per byte; the full check costs a switch per byte.
inline bool valid_uri_reference(std::string_view s) noexcept {
  unsigned any = 0;
  for (char c : s) any |= uri_class::byte_class[static_cast<unsigned char>(c)];
  return (any == uri_class::plain && !s.empty()) || uri_reference_general(s);
}

}  // namespace tg::cloudevents::detail
