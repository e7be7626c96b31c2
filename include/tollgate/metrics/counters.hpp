// SPDX-License-Identifier: Apache-2.0
// The HTTP statuses every probe counts by, in a fixed order, so a counter per
// status is an array index. Probes themselves belong to their components
// (server/probe.hpp, output/http/probe.hpp, spool/probe.hpp, ...): each one is
// written only by its shard's thread (a relaxed load + store, no locked
// instruction) and summed when /metrics is scraped.
#pragma once

#include <array>
#include <cstddef>

namespace tg::metrics {

// Every status tollgate sends, in a fixed order (index = position).
// 401/403 are never sent by tollgate but are what an upstream answers a bad token.
inline constexpr std::array<int, 18> statuses = {200, 202, 204, 400, 401, 403, 404, 405, 408, 411, 413, 429, 431, 500, 502, 503, 504, 505};
// Index of a status in `statuses`; unknown codes count as 500's slot.
std::size_t status_index(int status) noexcept;

}  // namespace tg::metrics
