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
# The daemons, tools and benches, optimised as shipped (line tables only:
# a quarter less build time). The unit tests are built and run under the
# sanitizers below instead: compiling them a third time would buy nothing
# the sanitizer builds do not check.
step "build ($BUILD_DIR)" env DIALOUT_TESTS=OFF "$root/scripts/build.sh" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" || finish
step "systemd units" "$root/scripts/check-units.sh"
step "Debian package (cpack: contents, man pages, units)" "$root/scripts/package-check.sh"
step "shell scripts (shellcheck)" bash -c "cd '$root' && shellcheck -x scripts/*.sh integration/*.sh .ci/run"
# Every unit test under ASan+UBSan; the suites that start threads (relay
# `workers`, tund `queues`, the resolver) under TSan too; TSAN=0 skips that.
step "unit tests (ASan+UBSan; threaded suites under TSan)" env TSAN="${TSAN:-1}" "$root/scripts/sanitize.sh"
step "fuzz smoke (${FUZZ_SECONDS:-5}s per target)" env FUZZ_SECONDS="${FUZZ_SECONDS:-5}" "$root/scripts/fuzz-smoke.sh"
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
