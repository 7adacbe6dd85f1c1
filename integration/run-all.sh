#!/usr/bin/env bash
# Runs every integration/*.sh scenario (lib.sh is the shared library, not a
# test) one after another and reports each: exit 0 = passed, 77 = skipped
# (e.g. not root), anything else = failed. Exits 1 if any failed, 77 if all
# were skipped, else 0. PER_TEST_TIMEOUT (seconds, default 600) bounds each.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${PER_TEST_TIMEOUT:-600}
passed=(); failed=(); skipped=()

for t in "$here"/*.sh; do
  name=$(basename "$t")
  [[ "$name" == lib.sh || "$name" == run-all.sh ]] && continue
  echo "=== $name"
  start=$SECONDS
  timeout --kill-after=10 "$timeout_s" bash "$t"
  rc=$?
  case $rc in
    0) passed+=("$name"); verdict=passed ;;
    77) skipped+=("$name"); verdict=skipped ;;
    124) failed+=("$name"); verdict="FAILED (timed out after ${timeout_s}s)" ;;
    *) failed+=("$name"); verdict="FAILED (exit $rc)" ;;
  esac
  echo "=== $name: $verdict in $((SECONDS - start))s"
done

echo "integration: ${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped${failed[*]:+ (failed: ${failed[*]})}"
((${#failed[@]} == 0)) || exit 1
((${#passed[@]} == 0 && ${#skipped[@]} > 0)) && exit 77
exit 0
