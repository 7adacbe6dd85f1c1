#!/usr/bin/env bash
# Pre-authentication limits under a flood (issue 14), on the two-offices lab
# (integration/lib.sh) plus a "flood" host and a third site hanging off the
# relay.
#
# Proves: while 10,000 silent TCP connections arrive from one address, and
# then 10,000 from 64 addresses, the two offices keep their ping (at most
# 2 of 20 lost) and their throughput (a checksummed transfer, reported
# before and during), a new site (identity rogue-site, name "rogue")
# registers during the many-address flood, the relay's RSS stays within
# its baseline + max-pending x 64 KiB + 64 MiB (each pending connection
# costs ~47 KB; unbounded, 10,000 of them would take ~470 MB), and the
# status counters show evictions (pending_evicted) and refusals over the
# handshake rate (refused_handshake_rate).
#
# Env: BUILD_DIR (default build), LOG_LEVEL (default warn here: the flood
# logs a line per closed connection at info), KEEP_RUN=1.
set -uo pipefail
LOG_LEVEL=${LOG_LEVEL:-warn}
# shellcheck disable=SC2119 # helpers take optional extra flags
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
MAX_PENDING=512
PER_SOURCE=32
FLOOD_COUNT=${FLOOD_COUNT:-10000}
FLOOD_RATE=${FLOOD_RATE:-500}   # connections per second: 20 s per flood
XFER_BYTES=$((40 * 1024 * 1024))

log "flood: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
log "run directory $LAB_RUN"
lab_require_daemons || { fail "daemon binaries present"; lab_finish; }
lab_add_relay_host flood 7
lab_add_relay_host site3 8
sources=()
for i in $(seq 2 65); do
  sources+=("100.64.7.$i")
  ((i > 2)) && lab_exec flood ip addr add "100.64.7.$i/24" dev eth0
done
lab_pki
lab_write_policy
lab_start_intermediary --max-pending "$MAX_PENDING" --max-pending-per-source "$PER_SOURCE" \
  --handshake-rate-per-source 20 --handshake-burst-per-source 40
wait_until 10 lab_listening relay 443 || { fail "intermediary listening"; lab_finish; }
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24
lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24
if wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 &&
   wait_until 20 status_is "$(lab_status_file tund-b)" registered 1; then
  pass "intermediary and both tund registered"
else
  fail "intermediary and both tund registered within 20 s"; lab_finish
fi
check "first ping hostA -> hostB" wait_until 15 lab_ping hostA 10.2.0.2

relay_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(lab_pid intermediary)/status" 2>/dev/null || echo 0; }
peak_rss=0
sample_rss() { local r; r=$(relay_rss_kb); ((r > peak_rss)) && peak_rss=$r; return 0; }
relay_counter() { status_value "$(lab_status_file intermediary)" "$1" 2>/dev/null || echo 0; }
# transfer PORT : a checksummed transfer hostA -> hostB (its check line is
# printed); sets MBPS to its rate in Mbit/s. lab_start must not run in a
# subshell, so the line goes through a file.
transfer() {
  local ms
  lab_tcp_transfer hostA 10.2.0.2 "$1" "$XFER_BYTES" > "$LAB_RUN/xfer.out"
  cat "$LAB_RUN/xfer.out"
  ms=$(sed -nE 's/.*\(([0-9]+) ms\)$/\1/p' "$LAB_RUN/xfer.out")
  MBPS=$(( XFER_BYTES * 8 / 1000 / ${ms:-1000000} ))
}

# --- baseline -------------------------------------------------------------------
base_ping=$(lab_ping_received hostA 10.2.0.2 20)
transfer 5001
base_mbps=$MBPS
sample_rss
base_rss=$peak_rss
rss_bound=$((base_rss + MAX_PENDING * 64 + 64 * 1024))
log "baseline: ping $base_ping/20, ${base_mbps} Mbit/s, relay RSS ${base_rss} kB (bound ${rss_bound} kB)"

# flood_start NAME SOURCES... : the flood in the background (~20 s); returns
# once it has had 3 s to fill the pending table.
flood_start() {
  local name=$1; shift
  lab_start "flood-$name" flood "$PY" "$LAB_ROOT/integration/flood.py" "$RELAY_PUBLIC" 443 "$FLOOD_COUNT" \
    "$FLOOD_RATE" "$@" "$LAB_RUN/flood-$name.result"
  sleep 3
  sample_rss
}
# measure NAME PORT : ping and a transfer during the flood; sets PING and MBPS.
measure() {
  PING=$(lab_ping_received hostA 10.2.0.2 20)
  sample_rss
  transfer "$2"
  sample_rss
  log "during the $1 flood: ping $PING/20, ${MBPS} Mbit/s, relay RSS peak ${peak_rss} kB"
  check "flood from $1: office ping keeps >= 18/20 (got $PING; before $base_ping)" test "$PING" -ge 18
}
# flood_end NAME : waits for the flood to finish, logs its summary.
flood_end() {
  wait_until 40 eval "! lab_alive flood-$1"
  lab_stop "flood-$1"
  sample_rss
  log "$1 flood: $(cat "$LAB_RUN/flood-$1.result" 2>/dev/null)"
}

# --- one address -----------------------------------------------------------------
flood_start one-address "${sources[0]}"
measure one-address 5002
one_ping=$PING one_mbps=$MBPS
check "one address: connections over the handshake rate refused at accept (refused_handshake_rate $(relay_counter refused_handshake_rate))" \
  test "$(relay_counter refused_handshake_rate)" -gt 0
flood_end one-address
ev0=$(relay_counter pending_evicted)

# --- 64 addresses, and a new site registering meanwhile -------------------------------
flood_start many "${sources[@]}"
lab_start_tund tund-3 site3 rogue-site rogue --advertise 10.3.0.0/24
check "a new site (rogue) registers during the 64-address flood" \
  wait_until 15 status_is "$(lab_status_file tund-3)" registered 1
measure 64-address 5003
many_ping=$PING many_mbps=$MBPS
check "64 addresses: oldest pending connections evicted (pending_evicted $(relay_counter pending_evicted), was $ev0)" \
  test "$(relay_counter pending_evicted)" -gt "$ev0"
flood_end many

check "relay RSS peak ${peak_rss} kB within baseline ${base_rss} + ${MAX_PENDING} x 64 KiB + 64 MiB = ${rss_bound} kB" \
  test "$peak_rss" -le "$rss_bound"
check "office-b still registered after the floods" status_is "$(lab_status_file tund-b)" registered 1
check "ping hostA -> hostB after the floods" lab_ping hostA 10.2.0.2 3
log "REPORT before: ping ${base_ping}/20, ${base_mbps} Mbit/s | one address: ping ${one_ping}/20, ${one_mbps} Mbit/s" \
  "| 64 addresses: ping ${many_ping}/20, ${many_mbps} Mbit/s | relay RSS ${base_rss} -> peak ${peak_rss} kB" \
  "| evicted $(relay_counter pending_evicted), refused over rate $(relay_counter refused_handshake_rate)"
lab_finish
