// SPDX-License-Identifier: Apache-2.0
// The `source` attribute check: an RFC 3986 URI reference, in the places where
// Go's url.Parse (which OpenMeter's CloudEvents decoder calls) would fail, plus
// white space and control characters, which no URI may hold.
#pragma once

#include <string_view>

namespace tg::cloudevents::detail {

// Accepts "api-gateway", "@openmeter/sdk", "https://github.com/cloudevents",
// "mailto:x@y", "urn:uuid:…", "/a/b", "1-555-123-4567". Refuses ":bad" (a
// colon before any '/' that does not end a valid scheme), "%zz", "%4", bytes
// <= 0x20 and 0x7f, an unclosed "[" host and a non-numeric port.
bool valid_uri_reference(std::string_view s) noexcept;

}  // namespace tg::cloudevents::detail
