#!/usr/bin/env bash
# The project's test command (README "Quick start"; .ci/run runs exactly this):
# installs dependencies, builds, runs the unit tests, checks the systemd units
# and the Debian package, and runs the namespace integration tests (those need
# root; without it they report themselves skipped). Exits non-zero if any step fails and ends with
# "N passed, N failed". Env: BUILD_DIR (default build), JOBS.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$root/build}
passed=0; failed=0; skipped=0; report=()

# step NAME cmd... : runs one step, records its verdict (77 = skipped).
step() {
  local name=$1 start=$SECONDS rc; shift
  echo "===== $name"
  "$@"; rc=$?
  local took=$((SECONDS - start))s
  case $rc in
    0) passed=$((passed + 1)); report+=("PASS  $name ($took)") ;;
    77) skipped=$((skipped + 1)); report+=("SKIP  $name ($took)") ;;
    *) failed=$((failed + 1)); report+=("FAIL  $name (exit $rc, $took)") ;;
  esac
  return "$rc"
}

finish() {
  echo "===== summary"
  printf '  %s\n' "${report[@]}"
  ((skipped == 0)) || echo "($skipped skipped)"
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit $?
}

step "install dependencies" "$root/scripts/install-deps.sh" || finish
step "build ($BUILD_DIR)" "$root/scripts/build.sh" || finish
step "unit tests (ctest)" bash -c "cd '$BUILD_DIR' && ctest --output-on-failure -j\"\${JOBS:-\$(nproc)}\" --timeout 300"
step "systemd units" "$root/scripts/check-units.sh"
step "Debian package (cpack: contents, man pages, units)" "$root/scripts/package-check.sh"
step "shell scripts (shellcheck)" bash -c "cd '$root' && shellcheck -x scripts/*.sh integration/*.sh .ci/run"
# TSan runs by default since both daemons have worker threads (relay
# `workers`, tund `queues`); TSAN=0 skips it (~3 minutes of the budget).
step "sanitizers (ASan+UBSan and TSan unit tests)" env TSAN="${TSAN:-1}" "$root/scripts/sanitize.sh"
step "fuzz smoke (${FUZZ_SECONDS:-10}s per target)" env FUZZ_SECONDS="${FUZZ_SECONDS:-10}" "$root/scripts/fuzz-smoke.sh"
if [[ $(id -u) -ne 0 ]]; then
  echo "integration tests need root (network namespaces): run 'sudo $0'"
fi
step "integration tests" "$root/integration/run-all.sh"
# Proves the benchmark still runs end to end (every measurement of plain
# routing and dialout taken once); asserts no speed. Needs root like the above.
if [[ $(id -u) -eq 0 ]]; then
  step "bench smoke (no speed asserted)" "$root/bench/run.sh" --smoke
fi
finish
