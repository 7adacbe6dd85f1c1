#!/usr/bin/env bash
# Configure (Ninja, RelWithDebInfo unless BUILD_TYPE says otherwise) and build
# into ${BUILD_DIR:-build} at the repository root. Extra arguments go to cmake's
# configure step, e.g. scripts/build.sh -DDIALOUT_SANITIZE=ON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
jobs=${JOBS:-$(nproc)}
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build_dir" -j"$jobs"
