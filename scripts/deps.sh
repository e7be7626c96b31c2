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
  libmimalloc-dev libssl-dev libbenchmark-dev doctest-dev libisal-dev libzstd-dev zlib1g-dev libdeflate-dev)
# What the tests add: real clients.
TG_TEST_PACKAGES=(python3 curl openssl zstd)
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
