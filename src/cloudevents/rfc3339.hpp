// SPDX-License-Identifier: Apache-2.0
// The `time` attribute check: RFC 3339 exactly as OpenMeter's validator accepts
// it (kin-openapi's date-time regex) and Go's time.Parse can read it, so an
// event tollgate accepts is never refused upstream for its time.
#pragma once

#include <string_view>

namespace tg::cloudevents::detail {

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), uppercase T and Z, a real
// calendar date, seconds 00-59 (Go rejects a leap second 60).
bool valid_rfc3339(std::string_view s) noexcept;

// The two halves of valid_rfc3339(), apart for the tests that hold them to
// each other: the SDKs' form only (a subset), and every form.
bool rfc3339_millis_utc(std::string_view s) noexcept;
bool rfc3339_general(std::string_view s) noexcept;

}  // namespace tg::cloudevents::detail
