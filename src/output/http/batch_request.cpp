// SPDX-License-Identifier: Apache-2.0
// Batch request assembly. The body size is known before copying (measured by
// the batcher, or by a first pass here), so the buffer is sized once and the
// events are copied once, never re-encoded.
#include "tollgate/output/http/batch_request.hpp"

namespace tg::upstream {

std::uint32_t build_batch_request(const ring::event_ring& events, std::uint64_t begin, std::uint64_t end,
                                  std::string_view head_prefix, std::string& out, std::size_t body_bytes) {
  ring::event_ring::record rec;
  std::size_t body = body_bytes;
  if (body == 0) {
    body = 1;  // "[" + (event ",")* with the last "," becoming "]"
    std::uint32_t n = 0;
    for (std::uint64_t pos = begin; pos != end && events.read(pos, rec); pos = rec.next) {
      body += rec.bytes.size() + 1;
      ++n;
    }
    if (n == 0) body = 2;
  }
  std::uint32_t n = 0;
  out.clear();
  const std::string length = std::to_string(body);
  out.reserve(head_prefix.size() + length.size() + 4 + body);
  out.append(head_prefix);
  out.append(length);
  out.append("\r\n\r\n[");
  bool first = true;
  for (std::uint64_t pos = begin; pos != end && events.read(pos, rec); pos = rec.next) {
    if (!first) out.push_back(',');
    out.append(rec.bytes.data(), rec.bytes.size());
    first = false;
    ++n;
  }
  out.push_back(']');
  return n;
}

}  // namespace tg::upstream
