// SPDX-License-Identifier: Apache-2.0
// Durations and rates as people type them for wrk, hey and vegeta: "500ms",
// "3s", "1m30s", "10k", "1000/s", "50/1s". Pure functions of the text, so
// tollgate-load's command line is unit-tested without a run.
#pragma once

#include <optional>
#include <string_view>

namespace tg::load {

// "1.5", "500ms", "3s", "1m30s", "2h": one or more <number><unit> terms with
// units ns, us, ms, s, m, h; a bare number is in `bare_unit_s` seconds (1 for
// --duration, 0.001 for --timeout). Seconds, or nullopt for anything else
// (negative, empty, an unknown unit, junk after the number).
std::optional<double> parse_duration(std::string_view text, double bare_unit_s);

// Requests per second from "2000", "10k", "1.5M", "1000/s", "600/m", "50/1s",
// "100/500ms": a count (k = 1000, M = 1000000) optionally over a unit or a
// duration. nullopt for anything else; 0 is allowed here (the caller bounds).
std::optional<double> parse_rate(std::string_view text);

}  // namespace tg::load
