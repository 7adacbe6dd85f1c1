#!/usr/bin/env bash
# Two-office demo in network namespaces (the lab of integration/lib.sh with the
# fixed prefix "dldemo-", so you can find it with `ip netns list`).
#
#   sudo scripts/demo.sh up      build, make a test PKI, start the lab and daemons
#   sudo scripts/demo.sh status  show the daemons' status files
#   sudo scripts/demo.sh down    stop the daemons (by recorded pid), delete the namespaces
set -uo pipefail
# shellcheck disable=SC2119 # helpers take optional extra flags
root=$(cd "$(dirname "$0")/.." && pwd)
export LAB_PREFIX=dldemo- LAB_RUN=${DEMO_DIR:-/tmp/dldemo} LAB_KEEP=1
# shellcheck source=integration/lib.sh
source "$root/integration/lib.sh"

demo_exists() { ip netns list | grep -q "^${LAB_PREFIX}"; }

up() {
  lab_require_root
  if demo_exists; then
    echo "demo: already up (namespaces ${LAB_PREFIX}*); run '$0 down' first" >&2
    exit 1
  fi
  # A fresh Debian machine has no compiler or libraries yet.
  "$root/scripts/install-deps.sh" demo || { echo "demo: installing dependencies failed" >&2; exit 1; }
  echo "demo: building into $BUILD_DIR"
  # Tests are not needed for the demo (and need GoogleTest).
  BUILD_DIR=$BUILD_DIR DIALOUT_TESTS=OFF "$root/scripts/build.sh" >/dev/null || { echo "demo: build failed" >&2; exit 1; }
  lab_require_daemons || exit 1
  rm -rf "$LAB_RUN"
  lab_up
  lab_pki
  echo "demo: lab up; starting intermediary on ${LAB_PREFIX}relay and tund on ${LAB_PREFIX}gwA/gwB"
  if ! lab_start_offices || ! wait_until 15 lab_ping hostA 10.2.0.2; then
    echo "demo: the tunnel did not come up; last log lines:" >&2
    lab_dump_logs 20 >&2
    lab_down
    exit 1
  fi
  cat <<EOF2

dialout demo is up: hostA (10.1.0.2) and hostB (10.2.0.2) reach each other
through the intermediary at $RELAY_PUBLIC:443, and neither office accepts
inbound connections.

  ip netns exec ${LAB_PREFIX}hostA ping 10.2.0.2
  ip netns exec ${LAB_PREFIX}hostB iperf3 -s -D -B 10.2.0.2
  ip netns exec ${LAB_PREFIX}hostA iperf3 -c 10.2.0.2 -t 5
  ip netns exec ${LAB_PREFIX}gwA ip route          # routes tund installed on dl0
  ip netns exec ${LAB_PREFIX}gwA nft list ruleset  # the office firewall

  logs:    $LAB_RUN/logs/{intermediary,tund-a,tund-b}.log
  status:  $LAB_RUN/status/*.status   (or: $0 status)
  config:  $LAB_RUN/{intermediary,tund-a,tund-b}.conf, $LAB_RUN/policy.conf
  certs:   $LAB_RUN/pki/

  tear down: sudo $0 down
EOF2
}

status() {
  local f
  for f in "$LAB_RUN"/status/*.status; do
    [[ -e "$f" ]] || { echo "demo: no status files in $LAB_RUN/status" >&2; return 1; }
    echo "== $(basename "$f" .status)"
    sed 's/^/  /' "$f"
  done
}

down() {
  lab_require_root
  lab_down
  demo_exists && { echo "demo: some namespaces remain: $(ip netns list | grep "^${LAB_PREFIX}")" >&2; exit 1; }
  rm -rf "$LAB_RUN"
  echo "demo: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|status|down" >&2; exit 2 ;;
esac
