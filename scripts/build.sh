#!/usr/bin/env bash
# Configure (Ninja, RelWithDebInfo unless BUILD_TYPE says otherwise) and build
# into ${BUILD_DIR:-build} at the repository root. Extra arguments go to cmake's
# configure step, e.g. scripts/build.sh -DDIALOUT_SANITIZE=ON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}
# DIALOUT_TESTS=OFF (the demo) skips the unit tests; said on every configure so
# a later build of the same directory gets them back.
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DDIALOUT_TESTS="${DIALOUT_TESTS:-ON}" "$@" >/dev/null
cmake --build "$build_dir" -j"$jobs"
