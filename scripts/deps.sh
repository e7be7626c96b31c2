# SPDX-License-Identifier: Apache-2.0
# Sourced by scripts/run, scripts/test and scripts/bench: installs the Debian
# packages a step needs, and only those that are missing (no network when
# everything is there).
tg_need_packages() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "tollgate: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# What building tollgate needs (DESIGN.md, "Dependencies").
TG_BUILD_PACKAGES=(g++ meson ninja-build pkg-config liburing-dev libsimdjson-dev node-llhttp
  libmimalloc-dev libssl-dev libbenchmark-dev doctest-dev librdkafka-dev
  libisal-dev libzstd-dev zlib1g-dev libdeflate-dev)
# What the tests add: real clients; promtool (prometheus) for the alert rules, dashboard
# and /metrics; chromium for the status page; groff for the man pages.
TG_TEST_PACKAGES=(python3 curl openssl prometheus chromium groff-base zstd)
# What the fuzz stage adds (tests/fuzz, scripts/fuzz): clang with libFuzzer.
TG_FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)
# The SDK test runs the official JavaScript SDKs (tests/e2e/sdk_test.py): Debian's
# nodejs and npm, unless a node and npm are on the PATH already.
{ command -v node && command -v npm; } >/dev/null 2>&1 || TG_TEST_PACKAGES+=(nodejs npm)
# What the macro benchmark adds: the baselines and plots.
TG_BENCH_PACKAGES=(nginx-light wrk gnuplot-nox)

# tg_configure DIR [meson options...]: set up a build dir once, reconfigure if options changed.
tg_configure() {
  local dir=$1
  shift
  local out
  if [ -f "$dir/build.ninja" ]; then
    out=$(meson configure "$dir" "$@" 2>&1) || { echo "$out" >&2; return 1; }
  else
    out=$(meson setup "$dir" "$@" 2>&1) || { echo "$out" >&2; return 1; }
  fi
}

# tg_fuzz_build: configure (once) and build the libFuzzer targets in build-fuzz,
# a clang build of tests/fuzz alone (tests/fuzz/meson.build).
tg_fuzz_build() {
  if [ ! -f build-fuzz/build.ninja ]; then
    local out
    out=$(CC=clang-14 CXX=clang++-14 meson setup build-fuzz tests/fuzz 2>&1) || { echo "$out" >&2; return 1; }
  fi
  ninja -C build-fuzz -j"$(nproc)" >&2
}

# tg_fuzz_targets: the target names (tests/fuzz/NAME_fuzz.cpp), one a line.
tg_fuzz_targets() {
  local f
  for f in tests/fuzz/*_fuzz.cpp; do
    f=${f##*/}
    echo "${f%_fuzz.cpp}"
  done
}

# tg_fuzz_run TARGET SECONDS: fuzzes TARGET for SECONDS from its seed corpus
# (tests/fuzz/corpus/TARGET, read only) and its working corpus in
# build-fuzz/corpus/TARGET, with its dictionary. A crash, a sanitizer report or
# a broken oracle leaves the input in build-fuzz/artifacts/ and returns non-zero.
tg_fuzz_run() {
  local t=$1 secs=$2
  local dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=("-dict=tests/fuzz/dict/$t.dict")
  mkdir -p "build-fuzz/corpus/$t" build-fuzz/artifacts
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0} \
    "build-fuzz/${t}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${dict[@]}" -artifact_prefix="build-fuzz/artifacts/$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t"
}
