// SPDX-License-Identifier: Apache-2.0
// Shared by the parser fuzz targets: the first bytes of a fuzz input choose the
// parser limits and where the rest is split, so the fuzzer explores framing
// and fragmentation together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tg::fuzz {

struct split_input {
  bool small_limits = false;          // bounds small enough to reach
  std::vector<std::string_view> pieces;  // the payload, in the order to feed it
  std::string_view payload;
};

// Byte 0: bit 3 small limits, bits 0-2 how many piece lengths follow (0-7).
// Then that many bytes, each one piece length (0-255, used in turn until the
// payload is used up). The rest is the payload.
inline split_input parse_split_input(const std::uint8_t* data, std::size_t size) {
  split_input in;
  if (size == 0) return in;
  const std::size_t n = data[0] & 7u;
  in.small_limits = (data[0] & 8u) != 0;
  if (size < 1 + n) return in;
  const std::uint8_t* lens = data + 1;
  in.payload = std::string_view(reinterpret_cast<const char*>(data + 1 + n), size - 1 - n);
  std::string_view rest = in.payload;
  for (std::size_t i = 0; !rest.empty(); ++i) {
    std::size_t len = n == 0 ? rest.size() : lens[i % n];
    if (len > rest.size()) len = rest.size();
    in.pieces.push_back(rest.substr(0, len));  // empty pieces are fed too
    rest.remove_prefix(len);
    if (i > 4 * in.payload.size() + 8) {  // all-zero lengths: feed the rest whole
      in.pieces.push_back(rest);
      break;
    }
  }
  return in;
}

}  // namespace tg::fuzz
