// SPDX-License-Identifier: Apache-2.0
// Builds one upstream request from a run of ring records: the request head
// (prefix up to "Content-Length: ", then the length) and the events' bytes,
// exactly as accepted, joined into a JSON array. Protocol core: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tollgate/ring/event_ring.hpp"

namespace tg::upstream {

// Appends to `out` (cleared first): head_prefix, the body length, "\r\n\r\n",
// then "[" e1 "," e2 … "]" for the records in [begin, end). `body_bytes` is the
// body's size when the caller already measured it (the batcher does), or 0 to
// measure it here with an extra pass. Returns the number of events.
std::uint32_t build_batch_request(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                                  std::string_view head_prefix, std::string& out, std::size_t body_bytes = 0);

}  // namespace tg::upstream
