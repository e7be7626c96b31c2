// SPDX-License-Identifier: Apache-2.0
// Unix timestamps (time_format unix_s / unix_ms) to the RFC 3339 text a
// CloudEvent's `time` holds. Decimal text only, read exactly (no double:
// 1712345678.123 as a double is ...122.99990, a millisecond early).
#pragma once

#include <cstdint>
#include <string_view>

#include "tollgate/base/clock.hpp"
#include "tollgate/mapping/routes.hpp"

namespace tg::mapping::detail {

// Reads `text` (-?digits[.digits], seconds or milliseconds per `f`; digits past
// the millisecond are dropped) as milliseconds since 1970. False when the text
// is not such a number or the time is outside the years 0000-9999 that
// RFC 3339 can write.
bool parse_unix_ms(std::string_view text, time_format f, std::int64_t& ms) noexcept;

// Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" for `ms` (in the range parse_unix_ms gives).
void format_unix_ms(std::int64_t ms, char (&out)[rfc3339_millis_len]) noexcept;

}  // namespace tg::mapping::detail
