#!/usr/bin/env bash
# Data-path benchmark: the five-namespace lab of integration/lib.sh, measured
# in one run with three ways of joining office A to office B:
#   plain        no VPN: the relay routes 10.1/24 and 10.2/24, the gateways
#                forward between the LANs (rules added for this variant only)
#   openvpn-udp  OpenVPN 2.6 hub on the relay (client-to-client, iroute per
#   openvpn-tcp  client via client-config-dir), both gateways clients; AES-256-GCM
#   dialout      intermediary on the relay, tund on gwA and gwB (as two_offices.sh)
#   dialout-squid  the same, but gwA reaches the intermediary through squid
#                (HTTP CONNECT, no authentication) on a "proxy" host off the
#                relay (100.64.1.2:3128); gwB dials directly. Not in the
#                default list: VARIANTS="plain dialout dialout-squid".
# For each: iperf3 TCP hostA -> hostB (1 and 4 streams), 64-byte UDP at a high
# offered rate (received packets/s, loss), ping RTT idle and under a TCP load.
# Medians of REPS repetitions; a table with ratios against plain routing and
# against OpenVPN TCP goes to stdout and bench/results/{latest,<stamp>}.md.
#
# Usage: bench/run.sh [--smoke] [--profile]
#   --smoke    1 rep, 2 s runs, plain + dialout + openvpn-tcp only; exits 0
#              if every measurement was taken (no speed asserted), 1 if one
#              could not be taken at all, 77 without root.
#   --profile  also perf-record the intermediary and tund-a during the
#              single-stream test (cpu-clock, call graphs off); top symbols
#              go to bench/results/profile-<stamp>.txt.
# Env: BUILD_DIR (default build; a Release/RelWithDebInfo tree is what you
# want to measure), REPS (3), DURATION (s, 10), VARIANTS (space list, default
# all four), GRO=on|off|both (on: GRO on the gateways' LAN veths, so a
# gateway's TUN receives TCP superpackets as behind a real NIC), UDP_RATE
# (iperf3 -b for the 64-byte test, 1G), NICE (e.g. -10: the lab's processes
# inherit it, for a machine busy with other work), KEEP_RUN=1 keeps the run directory.
set -uo pipefail
# shellcheck disable=SC2119,SC2317 # optional extra flags; functions called indirectly
LAB_PREFIX=${LAB_PREFIX:-dlb$$-}
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"

SMOKE=0 PROFILE=0
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    --profile) PROFILE=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "bench: unknown argument $a" >&2; exit 2 ;;
  esac
done
if ((SMOKE)); then
  REPS=${REPS:-1} DURATION=${DURATION:-2} VARIANTS=${VARIANTS:-plain dialout openvpn-tcp}
fi
REPS=${REPS:-3}
DURATION=${DURATION:-10}
VARIANTS=${VARIANTS:-plain openvpn-udp openvpn-tcp dialout}
GRO=${GRO:-on}
UDP_RATE=${UDP_RATE:-1G}
OVPN_BIN=${OVPN_BIN:-$(command -v openvpn || echo /usr/sbin/openvpn)}
RESULTS=${RESULTS:-$LAB_ROOT/bench/results}
STAMP=$(date +%Y%m%d-%H%M%S)
MISSING=0       # measurements of plain routing or dialout that could not be taken
PEER_MISSING=0  # the same for a comparison peer (reported, not fatal)

lab_require_root
if [[ -n "${NICE:-}" ]]; then renice -n "$NICE" -p $$ >/dev/null || echo "bench: renice $NICE failed"; fi
for tool in iperf3 ethtool nft ping; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (scripts/install-deps.sh)"; exit 1; }
done
case " $VARIANTS " in *" dialout "*|*" dialout-squid "*) lab_require_daemons || exit 1 ;; esac
case " $VARIANTS " in *openvpn*) [[ -x "$OVPN_BIN" ]] || { echo "bench: openvpn missing"; exit 1; } ;; esac
case "$GRO" in on|off) GRO_PASSES=("$GRO") ;; both) GRO_PASSES=(off on) ;; *) echo "bench: GRO=on|off|both"; exit 2 ;; esac

finish() {
  local rc=$1
  lab_down
  if ((rc != 0)) || [[ "${KEEP_RUN:-0}" == 1 ]]; then
    echo "run directory kept: $LAB_RUN"
  else
    rm -rf "$LAB_RUN"
  fi
  exit "$rc"
}

log "bench: namespaces ${LAB_PREFIX}*, build $BUILD_DIR, reps $REPS, ${DURATION}s runs, GRO ${GRO}, variants: $VARIANTS"
lab_up
trap 'finish 1' EXIT  # replaces lab_up's trap; finish tears the lab down
mkdir -p "$LAB_RUN/vals" "$RESULTS"
lab_pki >/dev/null

# --- measurements ----------------------------------------------------------

# json EXPR < iperf3-json : prints EXPR evaluated with j = the parsed JSON.
json() { "$PY" -c 'import json,sys
try:
  j = json.load(sys.stdin); print('"$1"')
except Exception: sys.exit(1)' 2>/dev/null; }

# record KEY VALUE : one sample of KEY for the current variant.
record() {
  if [[ -z "$2" ]]; then
    echo "  $KEY_PREFIX$1: no value"
    # A comparison peer that cannot be measured (OpenVPN TCP's control channel
    # drowning under the UDP flood, say) is a gap in the table, not a broken
    # benchmark; ours and the plain baseline must always be measured.
    case "$KEY_PREFIX" in
      openvpn*) PEER_MISSING=$((PEER_MISSING + 1)) ;;
      *) MISSING=$((MISSING + 1)) ;;
    esac
    return
  fi
  echo "$2" >> "$LAB_RUN/vals/$KEY_PREFIX$1"
  echo "  $KEY_PREFIX$1 = $2"
}

median() { # median FILE : median of the numbers in FILE, "" if none
  [[ -s "$1" ]] || return 0
  sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

iperf_client() { # iperf_client PORT ARGS... : JSON on stdout, bounded in time
  lab_exec hostA timeout $((DURATION + 20)) iperf3 -c 10.2.0.2 -p "$1" --connect-timeout 3000 \
    -t "$DURATION" -J "${@:2}" 2>/dev/null
}

# tun_tx_counters NS DEV : "packets bytes" the kernel handed to DEV (a TUN's tx).
tun_tx_counters() {
  lab_exec "$1" cat /proc/net/dev | awk -v d="$2:" '$1 == d { print $11, $10 }'
}

# cpu_ticks PID : utime+stime of a process (clock ticks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

measure_tcp1() {
  local before after out pids=() t0=() p i
  [[ -n "$TUN_DEV" ]] && before=$(tun_tx_counters gwA "$TUN_DEV")
  for p in "${CPU_PIDS[@]}"; do pids+=("$p"); t0+=("$(cpu_ticks "$p")"); done
  out=$(iperf_client 5201)
  record tcp1_gbit "$(json 'round(j["end"]["sum_received"]["bits_per_second"] / 1e9, 3)' <<< "$out")"
  for i in "${!pids[@]}"; do
    local t1; t1=$(cpu_ticks "${pids[$i]}")
    [[ -n "$t1" && -n "${t0[$i]}" ]] &&
      record "cpu_${CPU_NAMES[$i]}" "$(awk -v a="${t0[$i]}" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v d="$DURATION" \
        'BEGIN { printf "%.0f", (b - a) / hz / d * 100 }')"
  done
  if [[ -n "$TUN_DEV" ]]; then
    after=$(tun_tx_counters gwA "$TUN_DEV")
    record tun_avg_bytes "$(awk -v b="$before" -v a="$after" 'BEGIN { split(b, x); split(a, y);
      if (y[1] > x[1]) printf "%.0f", (y[2] - x[2]) / (y[1] - x[1]) }')"
  fi
}

measure_tcp4() {
  record tcp4_gbit "$(iperf_client 5201 -P 4 | json 'round(j["end"]["sum_received"]["bits_per_second"] / 1e9, 3)')"
}

measure_udp64() {
  local out try
  # One retry: iperf3's control connection can time out when the flood
  # swamps a tunnel that queues without bound (OpenVPN over TCP).
  for try in 1 2; do
    out=$(iperf_client 5201 -u -l 64 -b "$UDP_RATE")
    json 'j["end"]["sum"]["packets"]' <<< "$out" >/dev/null && break
    echo "  ${KEY_PREFIX}udp64: attempt $try gave no result"
  done
  # end.sum holds the receiver's view (packets sent, lost) as reported back.
  record udp_kpps "$(json 'round((j["end"]["sum"]["packets"] - j["end"]["sum"]["lost_packets"]) / j["end"]["sum"]["seconds"] / 1e3, 1)' <<< "$out")"
  record udp_loss_pct "$(json 'round(j["end"]["sum"]["lost_percent"], 1)' <<< "$out")"
}

# ping_stats COUNT : "avg max" in ms of COUNT pings at 50 ms, nothing if none answered.
ping_stats() {
  lab_exec hostA timeout $(($1 / 20 + 10)) ping -c "$1" -i 0.05 -W 1 -q 10.2.0.2 2>/dev/null |
    awk -F'[/ ]+' '/^rtt|^round-trip/ { print $7, $8 }'
}

measure_ping_idle() {
  local s; s=$(ping_stats 50)
  record ping_idle_ms "${s%% *}"
}

measure_ping_load() {
  local s count=$(( (DURATION - 1) * 20 ))
  ((count >= 10)) || count=10
  lab_start load hostA iperf3 -c 10.2.0.2 -p 5202 --connect-timeout 3000 -t $((DURATION + 1))
  sleep 1
  s=$(ping_stats "$count")
  lab_wait_exit load $((DURATION + 15)) || lab_stop load
  record ping_load_avg_ms "${s%% *}"
  record ping_load_max_ms "${s##* }"
}

run_variant_tests() { # the servers live for the whole variant; tests run REPS times
  local rep t tests=(tcp1 tcp4 udp64 ping_idle ping_load)
  ((SMOKE)) && tests=(tcp1 udp64 ping_idle ping_load)
  lab_start iperf-a hostB iperf3 -s -B 10.2.0.2 -p 5201
  lab_start iperf-b hostB iperf3 -s -B 10.2.0.2 -p 5202
  wait_until 5 lab_listening hostB 5201 && wait_until 5 lab_listening hostB 5202
  for ((rep = 1; rep <= REPS; rep++)); do
    for t in "${tests[@]}"; do
      if [[ "$t" == tcp1 && "$PROFILE" == 1 && "$rep" == 1 && -n "${PROFILE_PIDS:-}" ]]; then
        profile_start
        "measure_$t"
        profile_stop
      else
        "measure_$t"
      fi
    done
  done
  lab_stop iperf-a
  lab_stop iperf-b
}

# --- perf profile (dialout only) -------------------------------------------

profile_start() {
  local p
  for p in $PROFILE_PIDS; do
    lab_start "perf-$p" - perf record -e cpu-clock -F 999 -p "$p" -o "$LAB_RUN/perf-$p.data" -- sleep $((DURATION + 1))
  done
}

profile_stop() {
  local p name out=$RESULTS/profile-$STAMP.txt
  for p in $PROFILE_PIDS; do
    lab_wait_exit "perf-$p" 20 || lab_stop "perf-$p" INT
    name=$(tr -d '\0' < "/proc/$p/comm" 2>/dev/null || echo "$p")
    {
      echo "===== $name (pid $p), cpu-clock, ${DURATION}s single TCP stream, GRO $CUR_GRO"
      echo "--- by object"
      perf report -i "$LAB_RUN/perf-$p.data" --stdio --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
      echo "--- top symbols"
      perf report -i "$LAB_RUN/perf-$p.data" --stdio --sort dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
    } >> "$out"
  done
  echo "  profile appended to $out"
}

# --- variants --------------------------------------------------------------

lab_isolated() { ! lab_ping hostA 10.2.0.2; }

# nft_insert NS FAMILY TABLE CHAIN RULE... : inserts a rule, remembers its handle.
nft_insert() {
  local n=$1 fam=$2 table=$3 chain=$4 h; shift 4
  h=$(lab_exec "$n" nft --echo --handle insert rule "$fam" "$table" "$chain" "$@" | grep -o 'handle [0-9]*' | tail -n 1 | awk '{ print $2 }')
  echo "$n $fam $table $chain $h" >> "$LAB_RUN/nft-added"
}

variant_up_plain() {
  : > "$LAB_RUN/nft-added"
  lab_exec relay ip route add 10.1.0.0/24 via 192.0.2.2
  lab_exec relay ip route add 10.2.0.0/24 via 198.51.100.2
  local g
  for g in gwA gwB; do
    nft_insert "$g" inet dlfw forward iifname wan0 oifname lan0 ip saddr 10.0.0.0/8 accept
    nft_insert "$g" ip dlnat postrouting ip daddr 10.0.0.0/8 return  # routed, not masqueraded
  done
  TUN_DEV=""
  wait_until 5 lab_ping hostA 10.2.0.2
}

variant_down_plain() {
  local n fam table chain h
  while read -r n fam table chain h; do
    lab_exec "$n" nft delete rule "$fam" "$table" "$chain" handle "$h"
  done < "$LAB_RUN/nft-added"
  lab_exec relay ip route del 10.1.0.0/24 via 192.0.2.2
  lab_exec relay ip route del 10.2.0.0/24 via 198.51.100.2
}

# OpenVPN: the device is named dl* so the gateways' firewall treats it like
# tund's (forward dl* <-> lan0); nothing else in the lab changes.
ovpn_write_configs() { # ovpn_write_configs udp|tcp
  local p=$LAB_RUN/pki d=$LAB_RUN/ovpn-$1 proto_s proto_c
  [[ "$1" == udp ]] && { proto_s=udp4; proto_c=udp4; } || { proto_s=tcp4-server; proto_c=tcp4-client; }
  mkdir -p "$d/ccd"
  printf '%s\n' 'iroute 10.1.0.0 255.255.255.0' 'push "route 10.2.0.0 255.255.255.0"' > "$d/ccd/gw-a"
  printf '%s\n' 'iroute 10.2.0.0 255.255.255.0' 'push "route 10.1.0.0 255.255.255.0"' > "$d/ccd/gw-b"
  cat > "$d/server.conf" <<EOF
proto $proto_s
local $RELAY_PUBLIC
port 1194
dev dlovpn
dev-type tun
topology subnet
server 10.8.0.0 255.255.255.0
client-to-client
client-config-dir $d/ccd
route 10.1.0.0 255.255.255.0
route 10.2.0.0 255.255.255.0
ca $p/ca.crt
cert $p/intermediary.crt
key $p/intermediary.key
dh none
data-ciphers AES-256-GCM
remote-cert-tls client
disable-dco
keepalive 10 60
verb 3
EOF
  cat > "$d/client.conf" <<EOF
client
proto $proto_c
remote $RELAY_PUBLIC 1194
dev dlovpn
dev-type tun
nobind
ca $p/ca.crt
data-ciphers AES-256-GCM
remote-cert-tls server
disable-dco
verb 3
EOF
}

variant_up_openvpn() { # variant_up_openvpn udp|tcp
  local d=$LAB_RUN/ovpn-$1 p=$LAB_RUN/pki
  ovpn_write_configs "$1"
  lab_start "ovpn-server-$1" relay "$OVPN_BIN" --config "$d/server.conf"
  sleep 0.5
  lab_start "ovpn-a-$1" gwA "$OVPN_BIN" --config "$d/client.conf" --cert "$p/gw-a.crt" --key "$p/gw-a.key"
  lab_start "ovpn-b-$1" gwB "$OVPN_BIN" --config "$d/client.conf" --cert "$p/gw-b.crt" --key "$p/gw-b.key"
  TUN_DEV=dlovpn
  CPU_NAMES=(server gwA) CPU_PIDS=("$(lab_pid "ovpn-server-$1")" "$(lab_pid "ovpn-a-$1")")
  wait_until 30 grep -q 'Initialization Sequence Completed' "$LAB_RUN/logs/ovpn-a-$1.log" &&
    wait_until 30 grep -q 'Initialization Sequence Completed' "$LAB_RUN/logs/ovpn-b-$1.log" &&
    wait_until 15 lab_ping hostA 10.2.0.2
}

variant_down_openvpn() {
  lab_stop "ovpn-a-$1"; lab_stop "ovpn-b-$1"; lab_stop "ovpn-server-$1"
}

variant_up_dialout() {
  local ok=0
  lab_start_offices && wait_until 15 lab_ping hostA 10.2.0.2 && ok=1
  TUN_DEV=dl0
  CPU_NAMES=(server gwA) CPU_PIDS=("$(lab_pid intermediary)" "$(lab_pid tund-a)")
  PROFILE_PIDS="$(lab_pid intermediary) $(lab_pid tund-a)"
  ((ok))
}

variant_down_dialout() {
  local s; for s in tund-a tund-b intermediary; do lab_stop "$s"; done
  PROFILE_PIDS=""
}

SQUID_BIN=${SQUID_BIN:-/usr/sbin/squid}
SQUID_ADDR=100.64.1.2
# Office A through squid (as integration/proxy.sh, without authentication:
# the cost measured is the proxy's copy, not the 407 round trip at connect).
variant_up_squid() {
  local ok=0 sq=$LAB_RUN/squid
  [[ -x "$SQUID_BIN" ]] || { echo "bench: $SQUID_BIN missing (scripts/install-deps.sh)"; return 1; }
  if ! ip netns list | awk '{ print $1 }' | grep -qx "$(ns proxy)"; then lab_add_relay_host proxy 1; fi
  chmod 711 "$LAB_RUN"  # squid's unprivileged user reaches its directory
  mkdir -p "$sq"
  cat > "$sq/squid.conf" <<EOF
http_port $SQUID_ADDR:3128
acl relay_port port 443
acl CONNECT method CONNECT
http_access deny !CONNECT
http_access deny CONNECT !relay_port
http_access allow all
cache deny all
cache_mem 8 MB
pid_filename $sq/squid.pid
cache_log $sq/cache.log
access_log $sq/access.log
coredump_dir $sq
cache_effective_user proxy
shutdown_lifetime 1 seconds
EOF
  chown -R proxy: "$sq"
  lab_start squid proxy "$SQUID_BIN" -N -f "$sq/squid.conf"
  wait_until 15 lab_listening proxy 3128 || { echo "bench: squid did not listen"; return 1; }
  lab_write_policy
  lab_start_intermediary
  wait_until 10 lab_listening relay 443 &&
    lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24 --proxy "http://$SQUID_ADDR:3128" &&
    lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24 &&
    wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 &&
    wait_until 20 status_is "$(lab_status_file tund-b)" registered 1 &&
    wait_until 15 lab_ping hostA 10.2.0.2 && ok=1
  TUN_DEV=dl0
  CPU_NAMES=(server gwA) CPU_PIDS=("$(lab_pid intermediary)" "$(lab_pid tund-a)")
  PROFILE_PIDS="$(lab_pid intermediary) $(lab_pid tund-a)"
  ((ok))
}

variant_down_squid() {
  variant_down_dialout
  lab_stop squid TERM 10
}

run_variant() { # run_variant NAME
  local v=$1 kind arg
  case "$v" in
    plain) kind=plain arg="" ;;
    openvpn-udp) kind=openvpn arg=udp ;;
    openvpn-tcp) kind=openvpn arg=tcp ;;
    dialout) kind=dialout arg="" ;;
    dialout-squid) kind=squid arg="" ;;
    *) echo "bench: unknown variant $v"; MISSING=$((MISSING + 1)); return ;;
  esac
  KEY_PREFIX="$v.gro-$CUR_GRO."
  CPU_NAMES=() CPU_PIDS=() TUN_DEV="" PROFILE_PIDS=""
  if ! lab_isolated; then
    echo "bench: hostA reaches hostB before $v is up: the previous variant left something behind"
    MISSING=$((MISSING + 1)); return
  fi
  log "variant $v (GRO $CUR_GRO): starting"
  # shellcheck disable=SC2086 # arg is one word or none
  if "variant_up_$kind" $arg; then
    log "variant $v: hostA reaches hostB; measuring"
    run_variant_tests
  else
    echo "bench: $v did not come up; last log lines:"; lab_dump_logs 8
    MISSING=$((MISSING + 1))
  fi
  # shellcheck disable=SC2086
  "variant_down_$kind" $arg
  wait_until 10 lab_isolated || echo "bench: hostA still reaches hostB after $v went down"
  DONE_ROWS+=("$v gro-$CUR_GRO")
}

DONE_ROWS=()
for CUR_GRO in "${GRO_PASSES[@]}"; do
  for g in gwA gwB; do lab_exec "$g" ethtool -K lan0 gro "$CUR_GRO" >/dev/null 2>&1 ||
    echo "bench: ethtool -K lan0 gro $CUR_GRO failed on $g"; done
  for v in $VARIANTS; do run_variant "$v"; done
done

# --- report ----------------------------------------------------------------

source "$(dirname "$0")/report.sh"
report_write "$RESULTS/results-$STAMP.md"
cp "$RESULTS/results-$STAMP.md" "$RESULTS/latest.md"
cat "$RESULTS/latest.md"
echo
echo "written: $RESULTS/latest.md and $RESULTS/results-$STAMP.md"
trap - EXIT
((PEER_MISSING == 0)) || echo "bench: $PEER_MISSING measurement(s) of a comparison peer could not be taken (gaps in the table)"
if ((MISSING > 0)); then
  echo "bench: $MISSING measurement(s) could not be taken"
  finish 1
fi
finish 0
