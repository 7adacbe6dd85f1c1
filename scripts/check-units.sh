#!/usr/bin/env bash
# Checks systemd/*.service without installing anything and without systemd as
# PID 1: copies the units to a temporary directory with ExecStart pointing at
# the build tree (systemd-analyze verify insists the binary exists), then
#   - `systemd-analyze verify` must succeed and print nothing (it only warns,
#     with status 0, about unknown keys);
#   - `systemd-analyze security --offline` exposure must stay <= MAX_EXPOSURE;
#   - the directives the daemons' contract relies on must be present.
#
# Installed units instead (scripts/package-check.sh): UNITS_DIR=DIR takes the
# units from DIR, and BIN_ROOT=ROOT runs the binaries their ExecStart names
# under ROOT (ExecStart=/usr/sbin/tund -> ROOT/usr/sbin/tund), for the
# checks above and the exit-status checks below.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
units_dir=${UNITS_DIR:-$root/systemd}
bin_root=${BIN_ROOT:-}
max_exposure=${MAX_EXPOSURE:-3.0}
passed=0; failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# unit file -> binary in the build tree, and the name to verify (templates need an instance)
declare -A bin=([intermediary.service]=intermediary/intermediary [tund@.service]=tund/tund)
declare -A as=([intermediary.service]=intermediary.service [tund@.service]=tund@check.service)

declare -A daemon
for unit in intermediary.service tund@.service; do
  named=$(sed -nE 's|^ExecStart=([^ ]+).*|\1|p' "$units_dir/$unit")
  if [[ -n "$bin_root" ]]; then
    b=$bin_root$named
  else
    # cmake/install-units.cmake rewrites exactly this directory to the installed one.
    if [[ "$named" == "/usr/local/sbin/${bin[$unit]##*/}" ]]; then pass "$unit: ExecStart names $named"
    else fail "$unit: ExecStart names '$named', not /usr/local/sbin/${bin[$unit]##*/}"; fi
    b=$build_dir/${bin[$unit]}
  fi
  daemon[${bin[$unit]##*/}]=$b
  if [[ ! -x "$b" ]]; then fail "$unit: $b not built (run scripts/build.sh)"; continue; fi
  sed -E "s|^ExecStart=[^ ]+|ExecStart=$b|" "$units_dir/$unit" > "$tmp/$unit"
  out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/${as[$unit]}" 2>&1)
  rc=$?
  if ((rc == 0)) && [[ -z "$out" ]]; then pass "$unit: systemd-analyze verify is clean"
  else fail "$unit: systemd-analyze verify (status $rc): $out"; fi

  level=$(cd "$tmp" && systemd-analyze security --offline=yes --no-pager "$tmp/${as[$unit]}" 2>/dev/null |
    awk '/Overall exposure level/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+$/) print $i }')
  if [[ -n "$level" ]] && awk -v l="$level" -v m="$max_exposure" 'BEGIN { exit !(l <= m) }'; then
    pass "$unit: security exposure $level <= $max_exposure"
  else fail "$unit: security exposure ${level:-unknown} (max $max_exposure)"; fi
done

# require UNIT LINE... : each exact line must be in the unit.
require() {
  local unit=$1 line; shift
  for line in "$@"; do
    if grep -qxF -- "$line" "$units_dir/$unit"; then pass "$unit: has '$line'"
    else fail "$unit: missing '$line'"; fi
  done
}
require intermediary.service "Type=notify" "DynamicUser=yes" "Restart=on-failure" "RestartPreventExitStatus=64" \
  "CapabilityBoundingSet=CAP_NET_BIND_SERVICE" "AmbientCapabilities=CAP_NET_BIND_SERVICE" \
  "ExecReload=/bin/kill -HUP \$MAINPID" "NoNewPrivileges=yes" "ProtectSystem=strict"
require tund@.service "Type=notify" "Restart=on-failure" "RestartPreventExitStatus=64 78" \
  "CapabilityBoundingSet=CAP_NET_ADMIN" "AmbientCapabilities=CAP_NET_ADMIN" \
  "DeviceAllow=/dev/net/tun rw" "ExecReload=/bin/kill -HUP \$MAINPID" \
  "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectKernelTunables=yes" \
  "ReadWritePaths=/proc/sys/net/ipv4/conf -/proc/sys/net/ipv6/conf"
# ProcSubset=pid would hide /proc/sys, where the proxy role reads and writes.
if grep -q '^ProcSubset=pid' "$units_dir/tund@.service"; then
  fail "tund@.service: ProcSubset=pid hides /proc/sys (proxy_ndp/proxy_arp)"
else pass "tund@.service: /proc/sys visible (no ProcSubset=pid)"; fi
if grep -q -- '--config /etc/dialout/%i.conf' "$units_dir/tund@.service"; then
  pass "tund@.service: reads /etc/dialout/%i.conf"
else fail "tund@.service: ExecStart lacks --config /etc/dialout/%i.conf"; fi

# RestartPreventExitStatus=64 only helps if a file the daemon cannot use
# really ends it with 64 (not 78, which tund keeps for a refusal by the
# intermediary, nor 1). Both daemons are run here against unusable files.
exit_status() { "$@" >/dev/null 2>&1; echo $?; }
printf '[bogus section\n' > "$tmp/bad-policy.conf"
: > "$tmp/empty.pem"
status=$(exit_status "${daemon[intermediary]}" --listen 127.0.0.1:0 --cert "$tmp/empty.pem" \
  --key "$tmp/empty.pem" --ca "$tmp/empty.pem" --policy "$tmp/bad-policy.conf")
if [[ $status == 64 ]]; then pass "intermediary: an unusable policy file exits 64"
else fail "intermediary: an unusable policy file exits 64 (got $status)"; fi
status=$(exit_status "${daemon[tund]}" --name check --intermediary 127.0.0.1:1 --cert "$tmp/empty.pem" \
  --key "$tmp/empty.pem" --ca "$tmp/empty.pem")
if [[ $status == 64 ]]; then pass "tund: unusable certificate files exit 64"
else fail "tund: unusable certificate files exit 64 (got $status)"; fi

echo "units: $passed passed, $failed failed"
((failed == 0))
