// SPDX-License-Identifier: Apache-2.0
// The bytes of one segment as the scanner sees them (internal): views of a
// bounded size at any offset, so the same scan runs over a span in memory (the
// pure scan_segment, tests, the fuzzer) and over a file of any size through a
// window (recover_segment). The scan itself does no I/O beyond asking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tollgate/base/result.hpp"
#include "tollgate/spool/error.hpp"
#include "tollgate/spool/recovery.hpp"

namespace tg::spool::detail {

class byte_source {
 public:
  virtual ~byte_source() = default;
  virtual std::uint64_t size() const noexcept = 0;
  // The bytes from `off` on: at least min(want, size() - off) of them (more
  // is fine); valid until the next call. off <= size().
  virtual result<std::span<const char>, error> view(std::uint64_t off, std::size_t want) = 0;
  // The first offset >= off that may hold a non-zero byte (a hole is skipped
  // without reading it); size() when there is none.
  virtual std::uint64_t next_data(std::uint64_t off) noexcept { return off; }
};

class span_source final : public byte_source {
 public:
  explicit span_source(std::span<const char> bytes) noexcept : bytes_(bytes) {}
  std::uint64_t size() const noexcept override { return bytes_.size(); }
  result<std::span<const char>, error> view(std::uint64_t off, std::size_t) override {
    return bytes_.subspan(static_cast<std::size_t>(off));
  }

 private:
  std::span<const char> bytes_;
};

// The verdict on the bytes of `src` (see scan_segment). Reads at most
// record_footprint(max_payload) bytes per view.
result<segment_report, error> scan_source(byte_source& src, const recover_options& opts);

}  // namespace tg::spool::detail
