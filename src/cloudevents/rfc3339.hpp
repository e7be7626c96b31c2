// SPDX-License-Identifier: Apache-2.0
// The `time` attribute check: RFC 3339 exactly as OpenMeter's validator accepts
// it (kin-openapi's date-time regex) and Go's time.Parse can read it, so an
// event tollgate accepts is never refused upstream for its time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace tg::cloudevents::detail {

// The two halves of valid_rfc3339(), apart for the tests that hold them to
// each other: the SDKs' form only (a subset, below), and every form.
bool rfc3339_general(std::string_view s) noexcept;

namespace rfc3339_impl {
// Two ASCII digits read as a big-endian 16-bit number: once both are known to
// be digits, comparing these compares the numbers ("09" < "10" < "12").
constexpr std::uint32_t pair(const char* p) noexcept {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(p[0])) << 8 | static_cast<unsigned char>(p[1]);
}
}  // namespace rfc3339_impl

// "YYYY-MM-DDTHH:MM:SS.mmmZ", the form every SDK writes; inline, as it runs
// once per event. Every byte is held to a range of its own (a digit, a
// separator, or a tens digit's few values: month 0-1, day 0-3, hour 0-2,
// minute and second 0-5) with two 16-byte compares in the compiler's portable
// vectors (SSE2 on x86-64, NEON on arm64); then three two-digit compares. A
// day past the 28th is left to the general check (the calendar).
inline bool rfc3339_millis_utc(std::string_view s) noexcept {
  using rfc3339_impl::pair;
  if (s.size() != 24) return false;
  using v16 = unsigned char __attribute__((vector_size(16)));
  // Bytes 0-15, then 8-23: each byte b must satisfy b - low <= span.
  constexpr v16 low0 = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0', 'T', '0', '0', ':', '0', '0'};
  constexpr v16 span0 = {9, 9, 9, 9, 0, 1, 9, 0, 3, 9, 0, 2, 9, 0, 5, 9};
  constexpr v16 low1 = {'0', '0', 'T', '0', '0', ':', '0', '0', ':', '0', '0', '.', '0', '0', '0', 'Z'};
  constexpr v16 span1 = {3, 9, 0, 2, 9, 0, 5, 9, 0, 5, 9, 0, 9, 9, 9, 0};
  const char* p = s.data();
  v16 x0, x1;
  std::memcpy(&x0, p, 16);
  std::memcpy(&x1, p + 8, 16);
  const auto bad = ((x0 - low0) > span0) | ((x1 - low1) > span1);
  std::uint64_t w[2];
  std::memcpy(w, &bad, 16);
  if ((w[0] | w[1]) != 0) return false;
  const std::uint32_t month = pair(p + 5), day = pair(p + 8);
  if (month == pair("00") || month > pair("12") || day == pair("00") || pair(p + 11) > pair("23")) return false;
  return day <= pair("28") || rfc3339_general(s);
}

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), uppercase T and Z, a real
// calendar date, seconds 00-59 (Go rejects a leap second 60).
inline bool valid_rfc3339(std::string_view s) noexcept { return rfc3339_millis_utc(s) || rfc3339_general(s); }

}  // namespace tg::cloudevents::detail
