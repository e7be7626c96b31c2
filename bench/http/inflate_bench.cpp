// SPDX-License-Identifier: Apache-2.0
// Inflate cost per MB of a compressed ingest body, by library: zlib, libdeflate
// and ISA-L's igzip for gzip and deflate (zlib wrapper), libzstd for zstd, and
// tollgate's own http::inflate (the library chosen from these figures). The
// body is ~1 MiB of generated, varied events; every run checks the inflated
// bytes against the original, so a faster but wrong decoder fails.
#include <benchmark/benchmark.h>
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tollgate/http/inflate.hpp"

namespace {

// ~1 MiB of events that look like real usage: ids, subjects, times and
// values vary, as they do in an SDK's batch (a repeated event would compress
// far better than real traffic does).
const std::string& body() {
  static const std::string b = [] {
    std::string s = "[";
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return x;
    };
    const char* routes[] = {"/hello", "/api/orders", "/api/users/me", "/docs", "/checkout"};
    const char* regions[] = {"us-east-1", "eu-west-1", "ap-south-1"};
    char ev[512];
    for (int i = 0; s.size() < (1u << 20); ++i) {
      const std::uint64_t r = next();
      const int n = std::snprintf(
          ev, sizeof ev,
          R"(%s{"specversion":"1.0","id":"%016llx-%04x","source":"service-%d","type":"api-calls",)"
          R"("subject":"customer-%d","time":"2026-11-27T10:%02d:%02d.%03dZ","data":{"method":"GET",)"
          R"("route":"%s","duration_ms":%d,"region":"%s","status":200,"bytes":%d}})",
          i == 0 ? "" : ",", static_cast<unsigned long long>(r), i & 0xffff, static_cast<int>(r % 7),
          static_cast<int>((r >> 8) % 5000), (i / 600) % 60, (i / 10) % 60, i % 1000, routes[(r >> 20) % 5],
          static_cast<int>((r >> 24) % 2000), regions[(r >> 32) % 3], static_cast<int>((r >> 40) % 65536));
      s.append(ev, static_cast<std::size_t>(n));
    }
    s += "]";
    return s;
  }();
  return b;
}

// windowBits 31: gzip wrapper; 15: zlib wrapper (Content-Encoding: deflate).
std::string zlib_compress(const std::string& in, int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

const std::string& gz() {
  static const std::string s = zlib_compress(body(), 31);
  return s;
}
const std::string& zl() {
  static const std::string s = zlib_compress(body(), 15);
  return s;
}
const std::string& zst() {
  static const std::string s = [] {
    std::string out(ZSTD_compressBound(body().size()), '\0');
    const std::size_t n = ZSTD_compress(out.data(), out.size(), body().data(), body().size(), 3);
    if (ZSTD_isError(n)) std::abort();
    out.resize(n);
    return out;
  }();
  return s;
}

std::vector<char>& out_buf() {
  static std::vector<char> b(body().size() + 4096);
  return b;
}

void check(benchmark::State& state, const char* p, std::size_t n) {
  if (n != body().size() || std::memcmp(p, body().data(), n) != 0) state.SkipWithError("inflated bytes differ");
}

void finish(benchmark::State& state, const std::string& compressed) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body().size()));
  state.counters["ratio"] = static_cast<double>(body().size()) / static_cast<double>(compressed.size());
}

void zlib_inflate(benchmark::State& state, const std::string& in, int window_bits) {
  auto& out = out_buf();
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) std::abort();
  for (auto _ : state) {
    inflateReset(&z);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    if (inflate(&z, Z_FINISH) != Z_STREAM_END) state.SkipWithError("zlib inflate failed");
    check(state, out.data(), z.total_out);
  }
  inflateEnd(&z);
  finish(state, in);
}

void bm_zlib_gzip(benchmark::State& s) { zlib_inflate(s, gz(), 31); }
void bm_zlib_deflate(benchmark::State& s) { zlib_inflate(s, zl(), 15); }

void libdeflate_run(benchmark::State& state, const std::string& in, bool gzip) {
  auto& out = out_buf();
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  for (auto _ : state) {
    std::size_t n = 0;
    const libdeflate_result r =
        gzip ? libdeflate_gzip_decompress(d, in.data(), in.size(), out.data(), out.size(), &n)
             : libdeflate_zlib_decompress(d, in.data(), in.size(), out.data(), out.size(), &n);
    if (r != LIBDEFLATE_SUCCESS) state.SkipWithError("libdeflate failed");
    check(state, out.data(), n);
  }
  libdeflate_free_decompressor(d);
  finish(state, in);
}

void bm_libdeflate_gzip(benchmark::State& s) { libdeflate_run(s, gz(), true); }
void bm_libdeflate_deflate(benchmark::State& s) { libdeflate_run(s, zl(), false); }

void isal_run(benchmark::State& state, const std::string& in, std::uint32_t wrapper) {
  auto& out = out_buf();
  inflate_state st;
  for (auto _ : state) {
    isal_inflate_init(&st);
    st.crc_flag = wrapper;
    st.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
    st.avail_in = static_cast<std::uint32_t>(in.size());
    st.next_out = reinterpret_cast<std::uint8_t*>(out.data());
    st.avail_out = static_cast<std::uint32_t>(out.size());
    if (isal_inflate(&st) != ISAL_DECOMP_OK || st.block_state != ISAL_BLOCK_FINISH) {
      state.SkipWithError("isal_inflate failed");
    }
    check(state, out.data(), st.total_out);
  }
  finish(state, in);
}

void bm_isal_gzip(benchmark::State& s) { isal_run(s, gz(), ISAL_GZIP); }
void bm_isal_deflate(benchmark::State& s) { isal_run(s, zl(), ISAL_ZLIB); }

void bm_zstd(benchmark::State& state) {
  auto& out = out_buf();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  for (auto _ : state) {
    const std::size_t n = ZSTD_decompressDCtx(d, out.data(), out.size(), zst().data(), zst().size());
    if (ZSTD_isError(n)) state.SkipWithError("zstd failed");
    check(state, out.data(), ZSTD_isError(n) ? 0 : n);
  }
  ZSTD_freeDCtx(d);
  finish(state, zst());
}

// tollgate's own inflater, as the ingest path runs it: bounded output into
// a reused buffer, the codec named by Content-Encoding.
void tollgate_run(benchmark::State& state, const std::string& in, tg::http::coding c) {
  tg::http::inflater inf;
  tg::http::inflated_body out;
  for (auto _ : state) {
    auto r = inf.run(c, in, 4u << 20, out);  // --max-body-bytes' default
    if (!r) {
      state.SkipWithError(r.error().detail.c_str());
      break;
    }
    check(state, out.bytes.get(), *r);
  }
  finish(state, in);
}

void bm_tollgate_gzip(benchmark::State& s) { tollgate_run(s, gz(), tg::http::coding::gzip); }
void bm_tollgate_deflate(benchmark::State& s) { tollgate_run(s, zl(), tg::http::coding::deflate); }
void bm_tollgate_zstd(benchmark::State& s) { tollgate_run(s, zst(), tg::http::coding::zstd); }

}  // namespace

BENCHMARK(bm_zlib_gzip);
BENCHMARK(bm_libdeflate_gzip);
BENCHMARK(bm_isal_gzip);
BENCHMARK(bm_zlib_deflate);
BENCHMARK(bm_libdeflate_deflate);
BENCHMARK(bm_isal_deflate);
BENCHMARK(bm_zstd);
BENCHMARK(bm_tollgate_gzip);
BENCHMARK(bm_tollgate_deflate);
BENCHMARK(bm_tollgate_zstd);


