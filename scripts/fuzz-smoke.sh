#!/usr/bin/env bash
# Builds every libFuzzer target (one per fuzz/fuzz_*.cpp) with clang and
# runs each for a short, bounded time over a scratch copy of its seed corpus
# (fuzz/corpus/<target>/), so the repository corpus is never written to.
# Any crash, sanitizer report, leak, timeout or out-of-memory fails the run;
# the input that caused it is kept in $FUZZ_DIR/artifacts/ and the command
# to replay it is printed.
# Env: FUZZ_SECONDS (per target, default 20), FUZZ_DIR (default build-fuzz),
# FUZZ_TARGETS (space-separated subset, default all), JOBS, CXX (clang++).
# Longer runs: docs/testing.md.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-$(nproc)}
fuzz_dir=${FUZZ_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-20}
cxx=${CXX:-clang++}

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz-smoke: $cxx not found (apt-get install clang)"; exit 1
fi

targets=()
if [[ -n ${FUZZ_TARGETS:-} ]]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
else
  for src in "$root"/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi
((${#targets[@]} > 0)) || { echo "fuzz-smoke: no fuzz targets in $root/fuzz"; exit 1; }

# One run at a time per build tree (scripts/test.sh and a developer may
# start this at once); the lock is held until the script exits.
mkdir -p "$fuzz_dir" && exec {lock_fd}>"$fuzz_dir/.fuzz-smoke.lock" || exit 1
flock -n "$lock_fd" || { echo "waiting for another run using $fuzz_dir"; flock "$lock_fd"; }

# -O1: fast enough to fuzz, much quicker to compile than -O2 with sanitizers.
echo "--- configure and build ${targets[*]} in $fuzz_dir"
start=$SECONDS
if ! cmake -S "$root" -B "$fuzz_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
       -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DDIALOUT_UNITY=ON \
       -DCMAKE_CXX_COMPILER="$cxx" -DDIALOUT_FUZZ=ON >/dev/null ||
   ! cmake --build "$fuzz_dir" -j"$jobs" --target "${targets[@]}"; then
  echo "fuzz-smoke: FAILED to build the fuzz targets"; exit 1
fi
echo "--- built in $((SECONDS - start))s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=$fuzz_dir/artifacts
mkdir -p "$artifacts"
failed=()
for t in "${targets[@]}"; do
  corpus=$work/$t
  mkdir -p "$corpus"
  if [[ -d $root/fuzz/corpus/$t ]]; then
    cp -r "$root/fuzz/corpus/$t/." "$corpus/"
  else
    echo "note: no seed corpus fuzz/corpus/$t; starting empty"
  fi
  rm -f "$artifacts/$t"-*  # so a replay line below always names this run's input
  seeds=$(find "$corpus" -type f | wc -l)
  echo "--- $t: ${seconds}s from $seeds seeds"
  # -timeout: one input taking over 10 s is a hang; the outer timeout only
  # guards against libFuzzer itself not stopping.
  timeout --kill-after=10 $((seconds + 120)) "$fuzz_dir/fuzz/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$t-" "$corpus" >"$work/$t.log" 2>&1
  rc=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$t.log" | sed "s/^/  /"
  if ((rc != 0)); then
    failed+=("$t")
    echo "FAIL: $t (exit $rc); last lines of its log:"
    tail -n 40 "$work/$t.log"
    for a in "$artifacts/$t"-*; do
      [[ -e $a ]] && echo "  replay: $fuzz_dir/fuzz/$t $a"
    done
  else
    echo "PASS: $t ($(find "$corpus" -type f | wc -l) inputs in the scratch corpus)"
  fi
done

if ((${#failed[@]} > 0)); then
  echo "fuzz-smoke: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz-smoke: ${#targets[@]} targets ran ${seconds}s each without a crash"
