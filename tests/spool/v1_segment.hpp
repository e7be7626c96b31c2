// SPDX-License-Identifier: Apache-2.0
// Version-1 segments for the tests that check old spools still recover and
// replay: built with encode_record_v1 (which format_test checks against a
// segment the version-1 writer produced, tests/data/spool/), and that file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "tollgate/spool/format.hpp"

namespace spool_test {

#ifndef TG_TEST_DATA
#error "TG_TEST_DATA must name tests/data"
#endif
inline std::string v1_fixture_path() { return std::string(TG_TEST_DATA) + "/spool/segment-v1-fixture.log"; }
// What the fixture holds: shard 3, segment 2, records 5..16 with these
// payloads (CloudEvents, so the e2e test can deliver them to the sink).
inline std::string v1_fixture_payload(int i) {
  return "{\"specversion\":\"1.0\",\"id\":\"v1-" + std::to_string(i) +
         "\",\"source\":\"svc\",\"type\":\"api-calls\",\"subject\":\"customer-1\","
         "\"time\":\"2023-01-01T00:00:00.001Z\",\"data\":{\"duration_ms\":\"" +
         std::string(static_cast<std::size_t>(i % 13 + 1), '7') + "\"}}";
}

// A version-1 segment: header, then payloads as records first_seq, first_seq + 1, ...
inline std::vector<char> v1_segment(std::uint32_t shard, std::uint64_t segment_seq, std::uint64_t first_seq,
                                    const std::vector<std::string>& payloads) {
  std::vector<char> out(tg::spool::segment_header_bytes);
  tg::spool::encode_header({1, shard, segment_seq, first_seq},
                           std::span<char, tg::spool::segment_header_bytes>(out.data(), out.size()));
  std::uint64_t seq = first_seq;
  for (const std::string& p : payloads) {
    std::vector<char> rec(tg::spool::record_footprint_v1(p.size()));
    tg::spool::encode_record_v1(rec, seq++, p);
    out.insert(out.end(), rec.begin(), rec.end());
  }
  return out;
}

}  // namespace spool_test
