// SPDX-License-Identifier: Apache-2.0
// What the spool's record format costs, version 2 (marker and header CRC,
// written now) beside version 1 (read only): encoding records into a write
// buffer (the writer's share of an append), scanning them back (the replay
// reader's share), and recovery's verdict on a whole segment. Typical
// 300-byte events and small 64-byte ones. Every benchmark checks what it
// produced before it counts, and a wrong result makes the run exit 1.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tollgate/spool/format.hpp"
#include "tollgate/spool/recovery.hpp"

namespace {

using namespace tg::spool;

bool failed = false;
void fail(benchmark::State& state, const char* what) {
  failed = true;
  state.SkipWithError(what);
}

constexpr std::size_t buffer_bytes = 4u << 20;  // one write buffer's worth of records

std::string event_of(std::size_t n) {
  std::string e =
      R"({"specversion":"1.0","id":"0191b7a2-5e3c-7d4f-9a1b-2c3d4e5f6a7b","type":"api-calls",)"
      R"("source":"api-gateway","subject":"customer-42","time":"2026-11-24T02:52:34.096Z",)"
      R"("data":{"method":"POST","path":"/api/v1/items","region":"us-east-2","zone":"us-east-2a",)"
      R"("duration_ms":931,"status":200,"bytes":1024}})";
  e.resize(n, ' ');
  return e;
}

std::size_t footprint(std::uint32_t version, std::size_t n) {
  return version == 1 ? record_footprint_v1(n) : record_footprint(n);
}

std::size_t encode(std::uint32_t version, std::span<char> out, std::uint64_t seq, const std::string& p) {
  return version == 1 ? encode_record_v1(out, seq, p) : encode_record(out, seq, p);
}

// A buffer full of records seq first..; returns how many.
std::size_t fill(std::uint32_t version, std::vector<char>& buf, std::size_t at, std::uint64_t first, const std::string& ev) {
  std::size_t n = 0;
  const std::size_t fp = footprint(version, ev.size());
  while (at + fp <= buf.size()) {
    encode(version, std::span<char>(buf.data() + at, fp), first + n, ev);
    at += fp;
    ++n;
  }
  return n;
}

// Every record in order, each payload equal to ev.
bool verify(std::uint32_t version, std::span<const char> bytes, std::size_t at, std::uint64_t first, std::size_t n,
            const std::string& ev) {
  for (std::size_t i = 0; i < n; ++i) {
    const scan_result r = scan_record(bytes, at, max_payload_limit, version);
    if (r.kind != scan_kind::record || r.seq != first + i || r.payload.size() != ev.size() ||
        std::memcmp(r.payload.data(), ev.data(), ev.size()) != 0) {
      return false;
    }
    at = static_cast<std::size_t>(r.next);
  }
  return true;
}

// Encoding a write buffer's worth of records, as append() does.
template <std::uint32_t Version>
void bm_encode(benchmark::State& state) {
  const std::string ev = event_of(static_cast<std::size_t>(state.range(0)));
  std::vector<char> buf(buffer_bytes);
  std::uint64_t seq = 1;
  std::size_t records = 0;
  for (auto _ : state) {
    const std::size_t n = fill(Version, buf, 0, seq, ev);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
    state.PauseTiming();
    if (n == 0 || !verify(Version, buf, 0, seq, n, ev)) fail(state, "encoded records do not scan back");
    state.ResumeTiming();
    seq += n;
    records += n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.SetBytesProcessed(static_cast<std::int64_t>(records * ev.size()));
}

// Scanning a buffer of records back in order, as the replay reader does.
template <std::uint32_t Version>
void bm_scan(benchmark::State& state) {
  const std::string ev = event_of(static_cast<std::size_t>(state.range(0)));
  std::vector<char> buf(buffer_bytes);
  const std::size_t n = fill(Version, buf, 0, 1, ev);
  if (!verify(Version, buf, 0, 1, n, ev)) fail(state, "set-up records do not scan");
  std::size_t records = 0;
  for (auto _ : state) {
    std::size_t at = 0, got = 0;
    std::uint64_t sum = 0;
    for (;;) {
      const scan_result r = scan_record(buf, at, max_payload_limit, record_version_at(buf, at));
      if (r.kind != scan_kind::record) break;
      sum += r.seq;
      ++got;
      at = static_cast<std::size_t>(r.next);
    }
    benchmark::DoNotOptimize(sum);
    if (got != n || sum != n * (n + 1) / 2) fail(state, "scan lost or altered records");
    records += got;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.SetBytesProcessed(static_cast<std::int64_t>(records * ev.size()));
}

// Recovery's verdict on a clean 16 MiB segment (start-up cost per segment).
template <std::uint32_t Version>
void bm_scan_segment(benchmark::State& state) {
  const std::string ev = event_of(static_cast<std::size_t>(state.range(0)));
  std::vector<char> seg(16u << 20);
  encode_header({Version, 0, 1, 1}, std::span<char, segment_header_bytes>(seg.data(), segment_header_bytes));
  const std::size_t n = fill(Version, seg, segment_header_bytes, 1, ev);
  seg.resize(segment_header_bytes + n * footprint(Version, ev.size()));
  recover_options o;
  o.keep_records = false;
  std::size_t records = 0;
  for (auto _ : state) {
    auto rep = scan_segment(seg, o);
    if (!rep || rep->result != outcome::clean || rep->record_count != n || rep->last_seq() != n) {
      fail(state, "a clean segment did not scan clean");
      break;
    }
    records += rep->record_count;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(records));
  state.SetBytesProcessed(static_cast<std::int64_t>(records * ev.size()));
}

BENCHMARK(bm_encode<1>)->Arg(64)->Arg(300);
BENCHMARK(bm_encode<2>)->Arg(64)->Arg(300);
BENCHMARK(bm_scan<1>)->Arg(64)->Arg(300);
BENCHMARK(bm_scan<2>)->Arg(64)->Arg(300);
BENCHMARK(bm_scan_segment<1>)->Arg(300);
BENCHMARK(bm_scan_segment<2>)->Arg(300);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return failed ? 1 : 0;
}
