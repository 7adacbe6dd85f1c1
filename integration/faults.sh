#!/usr/bin/env bash
# Fault scenarios in the two-office lab (drawing at the top of lib.sh), each
# with a long inner TCP transfer hostA -> hostB running through the fault
# (paced, time-based; its sha256 must match at the end) and a 20/s ping probe
# hostA -> hostB that measures the tunnel's recovery:
#
#   kill           intermediary SIGKILLed and restarted
#   hint           intermediary SIGTERMed (sends RESTARTING, --restart-hint-ms, --restart-window-ms)
#                  and restarted: sites must come back at about the hint
#   wan-down       gwA's wan0 down for 10 s (default route re-added on up)
#   conntrack      `conntrack -F` on gwA (default loose TCP pickup)
#   conntrack-strict  the same with nf_conntrack_tcp_loose=0: the established
#                  TLS connection is now INVALID to gwA's firewall and dies
#   addr-change    gwA's public address 192.0.2.2 -> 192.0.2.3
#   slow-receiver  hostB drains slowly while office-c exchanges traffic with
#                  office-a: intermediary RSS bounded, office-c unaffected
#   conn-burst     1,000 TCP connections at once against the intermediary
#                  (100 send garbage, the rest nothing) while the offices talk
#
# "recovery" = from the end of the fault (restart issued, link up, flush,
# address changed; for hint: the SIGTERM; for conn-burst: the burst) to the
# first probe reply after the outage it caused (0 = no outage seen);
# "outage" = that gap in the probe; "TCP gap" = the longest pause in the inner
# transfer (includes the inner TCP's own retransmission backoff).
#
# Env: BUILD_DIR, LOG_LEVEL, FAULTS="kill hint ..." (subset, default all),
# BURSTS (conn-burst rounds, default 3), KEEP_RUN=1 keeps the run directory.
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
LABNET=("$PY" "$LAB_ROOT/integration/labnet.py")
ALL_FAULTS="kill hint wan-down conntrack conntrack-strict addr-change slow-receiver conn-burst"
FAULTS=${FAULTS:-$ALL_FAULTS}
KEEPALIVE_MS=1000   # short liveness timers so a 10 s outage exceeds dead-after
DEAD_MS=4000
HANDSHAKE_MS=3000
HINT_MS=2000
WINDOW_MS=1000     # restart-window-ms: sites spread their reconnect over it
RATE_KBPS=16000     # inner transfer pace: 2 MB/s
BURSTS=${BURSTS:-3} # conn-burst rounds (RSS must level off)
ROWS=()
# The systemd unit sets LimitNOFILE=65536; mirror it so conn-burst measures
# the daemon, not a 1024-descriptor login shell.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

finish() {
  local rc=0 row
  echo
  printf '%-17s %-6s %12s %10s %12s  %s\n' scenario result "recovery ms" "outage ms" "TCP gap ms" note
  for row in "${ROWS[@]}"; do
    IFS='|' read -r -a f <<< "$row"
    printf '%-17s %-6s %12s %10s %12s  %s\n' "${f[@]}"
  done
  summary || rc=1
  if ((rc != 0)); then lab_dump_logs 20; fi
  lab_down
  if ((rc != 0)) || [[ "${KEEP_RUN:-0}" == 1 ]]; then echo "run directory kept: $LAB_RUN"; else rm -rf "$LAB_RUN"; fi
  exit "$rc"
}

# row NAME OK RECOVERY OUTAGE TCPGAP NOTE : one line of the summary table.
row() { ROWS+=("$1|$( (($2)) && echo PASS || echo FAIL)|$3|$4|$5|$6"); }

start_relay() {
  lab_start_intermediary --keepalive-ms "$KEEPALIVE_MS" --dead-after-ms "$DEAD_MS" \
    --handshake-timeout-ms "$HANDSHAKE_MS" --restart-hint-ms "$HINT_MS" --restart-window-ms "$WINDOW_MS"
  wait_until 10 lab_listening relay 443
}
site_flags=(--keepalive-ms "$KEEPALIVE_MS" --dead-after-ms "$DEAD_MS")
vmrss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(lab_pid intermediary)/status" 2>/dev/null || echo 0; }
relay_sessions() { status_value "$(lab_status_file intermediary)" sessions || echo -1; }
relay_has_peer() { [[ -n "$(lab_exec relay ss -Htn state established "( sport = :443 and dst $1 )")" ]]; }
sessions_at_most() { (( $(relay_sessions) >= 0 && $(relay_sessions) <= $1 )); }

# --- the transfer and the probe ---------------------------------------------

# xfer_start NAME SECONDS PORT [SINK_MODE [SINK_ARG]] : sink on hostB, probe
# ping hostA -> hostB, paced sender on hostA.
xfer_start() {
  local name=$1 secs=$2 port=$3 mode=${4:-gap-sink} arg=${5:-200}
  rm -f "$LAB_RUN/$name".{sink,sent}*
  lab_start "sink-$name" hostB "${LABNET[@]}" "$mode" 10.2.0.2 "$port" $((secs + 90)) "$LAB_RUN/$name.sink" "$arg"
  wait_until 5 test -e "$LAB_RUN/$name.sink.ready"
  lab_start "probe-$name" hostA ping -D -n -i 0.05 -W 1 -w $((secs + 60)) 10.2.0.2
  local kbps=$RATE_KBPS; [[ $mode == slow-sink ]] && kbps=0
  lab_start "send-$name" hostA "${LABNET[@]}" tcp-stream 10.2.0.2 "$port" "$secs" "$kbps" "$LAB_RUN/$name.sent"
}

# xfer_finish NAME TIMEOUT_S : waits for both ends; sets XFER_OK, XFER_NOTE, TCP_GAP.
xfer_finish() {
  local name=$1 sb ssha rb rsha rs
  lab_wait_exit "send-$name" "$2" || lab_stop "send-$name"
  wait_until 10 test -s "$LAB_RUN/$name.sink"
  lab_stop "probe-$name"; lab_stop "sink-$name"
  read -r sb ssha < "$LAB_RUN/$name.sent" 2>/dev/null || { sb=0; ssha=none; }
  read -r rb rsha rs TCP_GAP < "$LAB_RUN/$name.sink" 2>/dev/null || { rb=0; rsha=none; rs=0; TCP_GAP=-1; }
  XFER_OK=0
  [[ $sb -gt 0 && $sb == "$rb" && $ssha == "$rsha" ]] && XFER_OK=1
  XFER_NOTE="$((rb / 1024)) KiB in ${rs%.*} s, sha256 $( ((XFER_OK)) && echo matches || echo "MISMATCH (sent $sb, got $rb)")"
}

# probe_recovery NAME T_MS : sets RECOVERY and OUTAGE from the probe's replies:
# the first gap >= 200 ms (4 probe intervals) that ends after T_MS and began no later than 1 s after it.
probe_recovery() {
  read -r RECOVERY OUTAGE < <(awk -v t="$2" '
    /bytes from/ { ts = substr($1, 2, length($1) - 2) * 1000
      if (prev && ts - prev >= 200 && ts > t && prev <= t + 1000 && !done) {
        printf "%d %d\n", ts - t, ts - prev; done = 1 }
      prev = ts }
    END { if (!done) print 0, 0 }' "$LAB_RUN/logs/probe-$1.log")
}

# --- scenarios ---------------------------------------------------------------

fault_kill() {
  local pa pb t ok=1
  pa=$(lab_pid tund-a); pb=$(lab_pid tund-b)
  xfer_start kill 12 6001; sleep 3
  lab_stop intermediary KILL
  t=$(now_ms); start_relay
  xfer_finish kill 90; probe_recovery kill "$t"
  check "kill: transfer through SIGKILL + restart: $XFER_NOTE" test "$XFER_OK" -eq 1 || ok=0
  check "kill: probe answered ${RECOVERY} ms after the restart (< 5000)" test "$RECOVERY" -lt 5000 || ok=0
  check "kill: neither tund restarted" eval "[[ \$(lab_pid tund-a) == $pa && \$(lab_pid tund-b) == $pb ]] && kill -0 $pa $pb" || ok=0
  row kill "$ok" "$RECOVERY" "$OUTAGE" "$TCP_GAP" "restart issued at once"
}

fault_hint() {
  local t ok=1 lo=$((HINT_MS - 200)) hi=$((HINT_MS + WINDOW_MS + 1500)) stop_ms told
  xfer_start hint 12 6002; sleep 3
  t=$(now_ms)
  lab_stop intermediary TERM 5
  stop_ms=$(( $(now_ms) - t ))
  start_relay
  xfer_finish hint 90; probe_recovery hint "$t"
  check "hint: transfer through SIGTERM + restart: $XFER_NOTE" test "$XFER_OK" -eq 1 || ok=0
  told=$(grep -m1 -oE "intermediary restarting; reconnecting in [0-9]+ ms" "$LAB_RUN/logs/tund-a.log" | grep -oE "[0-9]+" || echo -1)
  check "hint: tund-a was told to wait ${HINT_MS} ms plus a share of the ${WINDOW_MS} ms window (waits $told ms)" \
    test "$told" -ge "$HINT_MS" -a "$told" -le $((HINT_MS + WINDOW_MS)) || ok=0
  check "hint: probe answered ${RECOVERY} ms after SIGTERM (hint $HINT_MS + window $WINDOW_MS: want $lo..$hi, not a reconnect at once nor after dead-after $DEAD_MS)" \
    test "$RECOVERY" -ge "$lo" -a "$RECOVERY" -le "$hi" || ok=0
  row hint "$ok" "$RECOVERY" "$OUTAGE" "$TCP_GAP" "hint $HINT_MS ms; old process exited in $stop_ms ms"
}

fault_wan_down() {
  local t ok=1 rc0
  rc0=$(status_value "$(lab_status_file tund-a)" reconnects || echo 0)
  xfer_start wan 22 6003; sleep 3
  lab_exec gwA ip link set wan0 down; sleep 10
  lab_exec gwA ip link set wan0 up
  lab_exec gwA ip route replace default via 192.0.2.1
  t=$(now_ms)
  xfer_finish wan 120; probe_recovery wan "$t"
  check "wan-down: transfer through 10 s without gwA's WAN link: $XFER_NOTE" test "$XFER_OK" -eq 1 || ok=0
  check "wan-down: probe answered ${RECOVERY} ms after the link came back (< 5000)" test "$RECOVERY" -lt 5000 || ok=0
  check "wan-down: tund-a reconnected (reconnects $rc0 -> $(status_value "$(lab_status_file tund-a)" reconnects))" \
    status_ge "$(lab_status_file tund-a)" reconnects $((rc0 + 1)) || ok=0
  row wan-down "$ok" "$RECOVERY" "$OUTAGE" "$TCP_GAP" "10 s link down, dead-after $DEAD_MS ms"
}

# conntrack_flush NAME LOOSE PORT BOUND_MS
conntrack_flush() {
  local name=$1 loose=$2 t ok=1
  lab_sysctl gwA net.netfilter.nf_conntrack_tcp_loose="$loose"
  xfer_start "$name" 14 "$3"; sleep 3
  lab_exec gwA conntrack -F >/dev/null 2>&1
  t=$(now_ms)
  xfer_finish "$name" 90; probe_recovery "$name" "$t"
  lab_sysctl gwA net.netfilter.nf_conntrack_tcp_loose=1
  check "$name: transfer through 'conntrack -F' on gwA (tcp_loose=$loose): $XFER_NOTE" test "$XFER_OK" -eq 1 || ok=0
  check "$name: probe answered ${RECOVERY} ms after the flush (< $4)" test "$RECOVERY" -lt "$4" || ok=0
  row "$name" "$ok" "$RECOVERY" "$OUTAGE" "$TCP_GAP" "nf_conntrack_tcp_loose=$loose"
}
fault_conntrack() { conntrack_flush conntrack 1 6004 5000; }
fault_conntrack_strict() { conntrack_flush conntrack-strict 0 6005 $((DEAD_MS + 3000)); }

fault_addr_change() {
  local t ok=1
  xfer_start addr 12 6006; sleep 3
  lab_exec gwA ip addr del 192.0.2.2/24 dev wan0
  lab_exec gwA ip addr add 192.0.2.3/24 dev wan0
  lab_exec gwA ip route replace default via 192.0.2.1
  t=$(now_ms)
  xfer_finish addr 90; probe_recovery addr "$t"
  check "addr-change: transfer through gwA's address change: $XFER_NOTE" test "$XFER_OK" -eq 1 || ok=0
  check "addr-change: probe answered ${RECOVERY} ms after the change (< 5000)" test "$RECOVERY" -lt 5000 || ok=0
  check "addr-change: the intermediary now sees office-a from 192.0.2.3" \
    relay_has_peer 192.0.2.3 || ok=0
  # Informational: tund may notice the change itself (rtnetlink) or only after dead-after.
  local how="after dead-after"
  grep -qi 'address changed' "$LAB_RUN/logs/tund-a.log" && how="on tund's address-change notice"
  row addr-change "$ok" "$RECOVERY" "$OUTAGE" "$TCP_GAP" "192.0.2.2 -> 192.0.2.3, reconnected $how"
}

# ping_stats NS DST COUNT : prints "received avg_ms max_ms".
ping_stats() {
  lab_exec "$1" ping -n -c "$3" -i 0.2 -W 1 -q "$2" 2>/dev/null | awk '
    /received/ { r = $4 } /^rtt|^round-trip/ { split($4, v, "/"); a = v[2]; m = v[3] }
    END { printf "%d %.1f %.1f\n", r, a, m }'
}
# c_throughput LABEL : 8 MiB office-c -> hostA; prints Mbit/s.
c_throughput() {
  local res=$LAB_RUN/c-$1.result t0 ms
  rm -f "$res" "$res.ready"
  lab_start "c-sink-$1" hostA "${LABNET[@]}" tcp-sink 10.1.0.2 5100 40 "$res"
  wait_until 5 test -e "$res.ready"
  t0=$(now_ms)
  lab_exec gwC timeout 40 "${LABNET[@]}" tcp-send 10.1.0.2 5100 $((8 << 20)) 35 >/dev/null 2>&1
  ms=$(( $(now_ms) - t0 ))
  wait_until 5 test -s "$res"; lab_stop "c-sink-$1"
  awk -v ms="$ms" '{ printf "%.0f\n", (ms > 0 ? $1 * 8 / ms / 1000 : 0) }' "$res" 2>/dev/null || echo 0
}

fault_slow_receiver() {
  local ok=1 rss0 peak rss base load base_mbit load_mbit n=50
  base=$(ping_stats gwC 10.1.0.2 "$n"); base_mbit=$(c_throughput base)
  rss0=$(vmrss_kb); peak=$rss0
  xfer_start slow 16 6007 slow-sink 16
  load=$(ping_stats gwC 10.1.0.2 "$n")
  peak=$(( $(vmrss_kb) > peak ? $(vmrss_kb) : peak ))
  load_mbit=$(c_throughput load)
  peak=$(( $(vmrss_kb) > peak ? $(vmrss_kb) : peak ))
  xfer_finish slow 120
  rss=$(vmrss_kb)
  read -r br ba bm <<< "$base"; read -r lr la lm <<< "$load"
  check "slow-receiver: transfer to a slow reader (16 s at 20 KiB/s, then drained): $XFER_NOTE" test "$XFER_OK" -eq 1 || ok=0
  check "slow-receiver: intermediary VmRSS $((rss0 / 1024)) MiB -> peak $((peak / 1024)) -> $((rss / 1024)) MiB (growth < 64 MiB)" \
    test $((peak - rss0)) -lt 65536 || ok=0
  check "slow-receiver: office-c -> hostA ping $lr/$n answered, avg $la ms max $lm ms (idle: $br/$n, avg $ba max $bm; want >= 95 %, max < 200 ms)" \
    eval "(( lr * 100 >= n * 95 )) && awk -v m=$lm 'BEGIN { exit !(m < 200) }'" || ok=0
  check "slow-receiver: office-c -> hostA TCP $load_mbit Mbit/s (idle: $base_mbit; want >= a quarter)" \
    test $((load_mbit * 4)) -ge "$base_mbit" || ok=0
  row slow-receiver "$ok" - - "$TCP_GAP" "RSS +$(( (peak - rss0) / 1024 )) MiB; c ping avg ${ba}->${la} ms; c TCP ${base_mbit}->${load_mbit} Mbit/s"
}

fault_conn_burst() {
  local ok=1 s0 hs0 t peak=0 s res=$LAB_RUN/burst.result back=-1
  local rss0; rss0=$(vmrss_kb)
  s0=$(relay_sessions); hs0=$(status_value "$(lab_status_file intermediary)" handshake_failed || echo 0)
  xfer_start burst 14 6008; sleep 2
  t=$(now_ms)
  lab_start burst attacker "${LABNET[@]}" conn-burst "$RELAY_PUBLIC" 443 1000 100 $((HANDSHAKE_MS / 1000 + 8)) "$res"
  while lab_alive burst && (( $(now_ms) - t < 20000 )); do
    s=$(relay_sessions); ((s > peak)) && peak=$s
    sleep 0.2
  done
  lab_wait_exit burst 1 || lab_stop burst
  if wait_until 10 sessions_at_most "$s0"; then back=$(( $(now_ms) - t )); fi
  xfer_finish burst 90; probe_recovery burst "$t"
  local connected closed maxc
  connected=$(status_value "$res" connected || echo 0); closed=$(status_value "$res" closed_by_peer || echo 0)
  maxc=$(status_value "$res" max_close_ms || echo -1)
  check "conn-burst: intermediary still running" lab_alive intermediary || ok=0
  check "conn-burst: $(tr '\n' ' ' < "$res" 2>/dev/null)(want >= 990 connected, all closed by the intermediary within $((HANDSHAKE_MS + 3000)) ms)" \
    test "$connected" -ge 990 -a "$closed" -eq "$connected" -a "$maxc" -le $((HANDSHAKE_MS + 3000)) || ok=0
  check "conn-burst: sessions $s0 -> peak $peak -> back to $(relay_sessions) after ${back} ms" test "$back" -ge 0 || ok=0
  check "conn-burst: handshake_failed rose $hs0 -> $(status_value "$(lab_status_file intermediary)" handshake_failed) (garbage senders)" \
    status_ge "$(lab_status_file intermediary)" handshake_failed $((hs0 + 1)) || ok=0
  check "conn-burst: office probe gap during the burst ${OUTAGE} ms (< 1000): $XFER_NOTE" \
    test "$OUTAGE" -lt 1000 -a "$XFER_OK" -eq 1 || ok=0
  # The first burst raises the allocator's high-water mark; later ones must
  # not keep adding to it (a leak per connection would).
  local rss1 rss2 trail i
  rss1=$(vmrss_kb); rss2=$rss1; trail="$((rss0 / 1024)) -> $((rss1 / 1024))"
  for ((i = 2; i <= BURSTS; i++)); do
    rss1=$rss2
    lab_exec attacker timeout 30 "${LABNET[@]}" conn-burst "$RELAY_PUBLIC" 443 1000 100 $((HANDSHAKE_MS / 1000 + 8)) "$res.$i"
    wait_until 10 sessions_at_most "$s0"
    rss2=$(vmrss_kb); trail+=" -> $((rss2 / 1024))"
  done
  check "conn-burst: intermediary VmRSS over $BURSTS bursts: $trail MiB (the last adds < 16 MiB)" \
    test $((rss2 - rss1)) -lt 16384 || ok=0
  row conn-burst "$ok" "$back" "$OUTAGE" "$TCP_GAP" "recovery = sessions back to $s0; peak $peak; RSS $trail MiB ($BURSTS bursts)"
}

# --- setup -------------------------------------------------------------------

log "faults: namespaces ${LAB_PREFIX}*, build $BUILD_DIR, scenarios: $FAULTS"
lab_up
trap finish EXIT
lab_add_relay_host gwC 1
lab_add_relay_host attacker 2
lab_require_daemons || { fail "daemon binaries present"; exit 1; }
lab_pki gw-c
cat > "$LAB_RUN/policy.conf" <<'EOF'
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b, office-c

[identity gw-b]
register = office-b
advertise = 10.2.0.0/24
reach = office-a

[identity gw-c]
register = office-c
advertise = 10.3.0.0/24
reach = office-a
EOF
start_relay || { fail "intermediary listening"; exit 1; }
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24 "${site_flags[@]}"
lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24 "${site_flags[@]}"
# office-c is gwC itself: 10.3.0.1 on its TUN device is the source of its traffic.
lab_start_tund tund-c gwC gw-c office-c --advertise 10.3.0.0/24 --tun-address 10.3.0.1/32 "${site_flags[@]}"
for s in a b c; do
  check "tund-$s registered" wait_until 20 status_is "$(lab_status_file "tund-$s")" registered 1 || exit 1
done
check "hostA reaches hostB and office-c reaches hostA through the tunnel" \
  eval 'wait_until 15 lab_ping hostA 10.2.0.2 && wait_until 15 lab_ping gwC 10.1.0.2' || exit 1

for f in $FAULTS; do
  log "--- $f"
  t0=$SECONDS
  "fault_${f//-/_}"
  log "--- $f took $((SECONDS - t0)) s"
done
