#!/usr/bin/env bash
# Builds the unit tests under the sanitizers and runs them:
#   1. ASan + UBSan (-DDIALOUT_SANITIZE=ON) in ${ASAN_DIR:-build-asan};
#   2. TSan (-DDIALOUT_TSAN=ON) in ${TSAN_DIR:-build-tsan}, unless TSAN=0:
#      the suites that start threads (relay workers, tund's queue workers,
#      the resolver; tests/CMakeLists.txt lists them).
# Only the unit_tests target is built (not the daemons or benches), in a
# Debug build: it compiles fastest and the sanitizers do not need -O.
# Any sanitizer report aborts the test that hit it, so ctest sees a failure.
# Exits non-zero if a build or a test fails. Env: JOBS, ASAN_DIR, TSAN_DIR,
# TSAN (1 = run, 0 = skip), CTEST_TIMEOUT (seconds per test, default 300).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}
asan_dir=${ASAN_DIR:-$root/build-asan}
tsan_dir=${TSAN_DIR:-$root/build-tsan}
run_tsan=${TSAN:-1}
ctest_timeout=${CTEST_TIMEOUT:-300}
failures=()

# lock_tree DIR: one run at a time per build tree (scripts/test.sh and a
# developer may start this at once); held until the script exits.
lock_tree() {
  local fd
  mkdir -p "$1" && exec {fd}>"$1/.sanitize.lock" || return 1
  flock -n "$fd" || { echo "waiting for another run using $1"; flock "$fd"; }
}

# build_and_test NAME DIR ENV-ASSIGNMENTS -- CMAKE-ARGS...
build_and_test() {
  local name=$1 dir=$2 start=$SECONDS; shift 2
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  if ! lock_tree "$dir"; then
    failures+=("$name lock")
    return
  fi
  echo "--- $name: configure and build unit_tests in $dir"
  # Unity-built libraries and line tables only (-g1: enough for sanitizer
  # stack traces): about half the build time of a plain Debug build.
  if ! cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDIALOUT_UNITY=ON \
         -DCMAKE_CXX_FLAGS_DEBUG=-g1 "$@" >/dev/null ||
     ! cmake --build "$dir" -j"$jobs" --target unit_tests; then
    failures+=("$name build")
    return
  fi
  echo "--- $name: ctest ($((SECONDS - start))s so far)"
  # ctest runs each test in its own process, so one sanitizer abort names
  # exactly the test that caused it.
  if ! (cd "$dir" && env "${envs[@]}" ctest --output-on-failure -j"$jobs" --timeout "$ctest_timeout"); then
    failures+=("$name tests")
  fi
  echo "--- $name: done in $((SECONDS - start))s"
}

# halt_on_error: the first report fails the test instead of scrolling by.
build_and_test "asan+ubsan" "$asan_dir" \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  -- -DDIALOUT_SANITIZE=ON

if [[ $run_tsan == 1 ]]; then
  build_and_test "tsan" "$tsan_dir" \
    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    -- -DDIALOUT_TSAN=ON
else
  echo "--- tsan: skipped (TSAN=$run_tsan)"
fi

if ((${#failures[@]} > 0)); then
  echo "sanitize: FAILED: ${failures[*]}"
  exit 1
fi
echo "sanitize: all sanitizer builds and tests passed"
