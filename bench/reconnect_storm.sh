#!/usr/bin/env bash
# Reconnect storm (issue 17): SESSIONS idle laptop sessions plus the two
# offices moving a TCP stream; the intermediary is restarted with a notice
# (SIGTERM: RESTARTING with --restart-hint-ms and --restart-window-ms) and
# started again with the same ticket-key file. Reports the time until every
# laptop session is back (and how many resumed their TLS session), the
# offices' ping outage and their TCP throughput during the storm against
# before it.
#
#        hostA -- gwA (tund-a) --+                  +-- gwB (tund-b) -- hostB
#        iperf3 client, ping     |      relay       |   iperf3 server
#                                +-- intermediary --+
#                                          |
#                                       laptops: session_load --reconnect
#                                       (SESSIONS sessions of identity "load")
#
# Timeline: laptops set up (full handshakes, CONCURRENCY at once); iperf3
# hostA -> hostB for DURATION s and ping -i 0.05 hostA -> hostB start; after
# RESTART_AT s the intermediary gets SIGTERM and, once it is gone, starts
# again. "storm" = from the restart until every laptop is back (session_load
# measures it from the first RESTARTING it reads). Throughput is iperf3's
# per-second figures averaged over before (from 1 s), the storm, and after.
#
#   bench/reconnect_storm.sh [--json FILE]
#
# Env: BUILD_DIR, SESSIONS (10000), CONCURRENCY (64, initial setup only),
# DURATION (60 s of iperf3: it should outlast the storm), RESTART_AT (8 s),
# STORM_TIMEOUT (60 s: laptops not back by then = a broken run),
# SETUP_TIMEOUT (300 s), HINT_MS (1000), WINDOW_MS (5000), OFFICE_WINDOW_MAX_MS
# (0: the offices' tund reconnect at the hint, not spread), OFFICE_RATE (iperf3
# -b for the offices' stream: 0 = as fast as it goes, e.g. 200M), STOP_TIMEOUT (10 s:
# the old relay is SIGKILLed if it lingers longer), JSON (= --json),
# KEEP_RUN=1 keeps the run directory, LAB_KEEP=1 the lab.
# Exits 1 only if the run broke (setup, storm timeout, iperf3); not on speed.
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/../integration/lib.sh"

JSON=${JSON:-}
if [[ ${1:-} == --json ]]; then JSON=${2:?--json needs a file}; fi
SESSIONS=${SESSIONS:-10000}
CONCURRENCY=${CONCURRENCY:-64}
DURATION=${DURATION:-60}
RESTART_AT=${RESTART_AT:-8}
STORM_TIMEOUT=${STORM_TIMEOUT:-60}
SETUP_TIMEOUT=${SETUP_TIMEOUT:-300}
HINT_MS=${HINT_MS:-1000}
WINDOW_MS=${WINDOW_MS:-5000}
OFFICE_WINDOW_MAX_MS=${OFFICE_WINDOW_MAX_MS:-0}
OFFICE_RATE=${OFFICE_RATE:-0}
STOP_TIMEOUT=${STOP_TIMEOUT:-10}
SESSION_LOAD_BIN=${SESSION_LOAD_BIN:-$BUILD_DIR/bench/session_load}

lab_require_root
lab_require_daemons || exit 2
[[ -x $SESSION_LOAD_BIN ]] || { echo "reconnect_storm: $SESSION_LOAD_BIN not built" >&2; exit 2; }
command -v iperf3 >/dev/null || { echo "reconnect_storm: iperf3 missing" >&2; exit 2; }
# The systemd unit sets LimitNOFILE=65536; every daemon started below inherits it.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

broken() {
  echo "reconnect_storm: BROKEN: $*"
  lab_dump_logs 20
  lab_down
  echo "run directory kept: $LAB_RUN"
  exit 1
}

lab_up
lab_pki load
lab_write_policy
{
  echo
  echo "# the laptops: load-0 .. load-$((SESSIONS - 1)), 50 names a line"
  echo "[identity load]"
  line=""
  for ((i = 0; i < SESSIONS; i++)); do
    line+="${line:+, }load-$i"
    if (((i + 1) % 50 == 0)); then echo "register = $line"; line=""; fi
  done
  [[ -z $line ]] || echo "register = $line"
  echo "reach = office-a"
} >> "$LAB_RUN/policy.conf"

# Every laptop comes from one address (the laptops namespace), so the
# per-source limits are lifted; max-pending must be >= its per-source share.
relay_flags=(--ticket-key-file "$LAB_RUN/ticket-keys" --handshake-rate-per-source 0 --max-pending 4096
  --max-pending-per-source 4096 --max-sessions-per-identity 1048576
  --restart-hint-ms "$HINT_MS" --restart-window-ms "$WINDOW_MS")
start_relay() {
  lab_start_intermediary "${relay_flags[@]}"
  wait_until 20 lab_listening relay 443
}
relay_status() { status_value "$(lab_status_file intermediary)" "$1" 2>/dev/null || echo -1; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }

start_relay || broken "intermediary not listening"
# The offices come back at the hint, ahead of the laptops that spread over the window.
office_flags=(--restart-window-max-ms "$OFFICE_WINDOW_MAX_MS")
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24 "${office_flags[@]}"
lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24 "${office_flags[@]}"
registered() { status_is "$(lab_status_file tund-a)" registered 1 && status_is "$(lab_status_file tund-b)" registered 1; }
wait_until 20 registered || broken "offices not registered"
wait_until 10 lab_ping hostA 10.2.0.2 || broken "hostA cannot ping hostB through the tunnel"

# --- the laptops -------------------------------------------------------------
lab_add_relay_host laptops 1
p=$LAB_RUN/pki
load_log=$LAB_RUN/logs/laptops.log
log "setting up $SESSIONS laptop sessions ($CONCURRENCY at once, full handshakes)"
lab_start laptops laptops "$SESSION_LOAD_BIN" --reconnect --intermediary "$RELAY_PUBLIC:443" \
  --server-name intermediary --cert "$p/load.crt" --key "$p/load.key" --ca "$p/ca.crt" \
  --sessions "$SESSIONS" --name-prefix load- --concurrency "$CONCURRENCY" \
  --setup-timeout-seconds "$SETUP_TIMEOUT" --timeout-seconds "$STORM_TIMEOUT" --hold-seconds $((DURATION + STORM_TIMEOUT + 120)) \
  --storm-wait-seconds $((DURATION + 120))
wait_until $((SETUP_TIMEOUT + 10)) grep -q '^sessions: ' "$load_log" || broken "no setup line from session_load"
setup_line=$(grep -m1 '^sessions: ' "$load_log")
log "$setup_line"
[[ $setup_line == "sessions: $SESSIONS ready, 0 failed"* ]] || broken "laptop setup incomplete"
relay_has_all() { (($(relay_status sessions) >= SESSIONS + 2)); }  # tund may open more than one
wait_until 10 relay_has_all || broken "the relay does not count $((SESSIONS + 2)) sessions"

# --- traffic, restart, storm ---------------------------------------------------
lab_start iperf-s hostB iperf3 -s -1 -B 10.2.0.2 -p 5201
wait_until 5 lab_listening hostB 5201 || broken "iperf3 server not listening"
lab_start ping hostA ping -D -n -O -i 0.05 -W 1 -w $((DURATION + 90)) 10.2.0.2
t_iperf=$(now_ms)
lab_start iperf-c hostA timeout $((DURATION + 60)) iperf3 -c 10.2.0.2 -p 5201 --connect-timeout 3000 -b "$OFFICE_RATE" \
  -t "$DURATION" -i 1 -J --logfile "$LAB_RUN/iperf.json"
sleep "$RESTART_AT"

log "restarting the intermediary (SIGTERM, hint $HINT_MS ms, window $WINDOW_MS ms)"
old_cpu=$(cpu_s "$(lab_pid intermediary)")
t_restart=$(now_ms)
load_cpu0=$(cpu_s "$(lab_pid laptops)")
lab_stop intermediary TERM "$STOP_TIMEOUT" > "$LAB_RUN/stop.out"
t_stopped=$(now_ms)
cat "$LAB_RUN/stop.out"
sigkilled=False killed=""
if grep -q 'killing' "$LAB_RUN/stop.out"; then sigkilled=True killed=" (ignored SIGTERM for ${STOP_TIMEOUT} s: SIGKILLed)"; fi
start_relay || broken "intermediary not listening after the restart"
t_listening=$(now_ms)
relay_pid=$(lab_pid intermediary)
cpu0=$(cpu_s "$relay_pid")

wait_until $((STORM_TIMEOUT + 15)) grep -q '^storm: .* back in ' "$load_log" || broken "no storm line from session_load"
relay_cpu=$(awk -v a="$(cpu_s "$relay_pid")" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')
load_cpu=$(awk -v a="$(cpu_s "$(lab_pid laptops)")" -v b="$load_cpu0" 'BEGIN { printf "%.2f", a - b }')
storm_line=$(grep -m1 '^storm: .* back in ' "$load_log")
log "$storm_line"
read -r back total took resumed failed retries < <(sed -E \
  's/^storm: ([0-9]+) of ([0-9]+) back in ([0-9.]+) s \(([0-9]+) resumed, ([0-9]+) failed, ([0-9]+) retries\).*/\1 \2 \3 \4 \5 \6/' \
  <<< "$storm_line")
[[ $back =~ ^[0-9]+$ && $retries =~ ^[0-9]+$ ]] || broken "unreadable storm line: $storm_line"
# (bash arithmetic: mawk's %d stops at 2^31)
t_back=$((t_restart + $(awk -v s="$took" 'BEGIN { printf "%.0f", s * 1000 }')))
sleep 1.2  # one more status file write
tls_resumed=$(relay_status tls_resumed)
handshake_failed=$(relay_status handshake_failed)
relay_sessions=$(relay_status sessions)

lab_wait_exit iperf-c $((DURATION + 70)) || lab_stop iperf-c
iperf_rc=${LAB_EXIT_STATUS:-1}
lab_stop ping INT 5
lab_stop iperf-s
lab_stop laptops

# --- figures -------------------------------------------------------------------
# Everything in ms since the epoch (ping -D and now_ms share the clock; the
# iperf3 intervals are placed from the moment the client was started).
read -r -d '' ANALYSE <<'PY'
import json, re, sys
iperf, ping, t_iperf, t_restart, t_back = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6])
out = {}
try:
    j = json.load(open(iperf))
    ivs = [(t_iperf + 1000 * i["sum"]["start"], t_iperf + 1000 * i["sum"]["end"], i["sum"]["bytes"]) for i in j["intervals"]]
except Exception:
    ivs = []
def mbit(lo, hi):
    got = span = 0.0
    for a, b, n in ivs:
        o = max(0.0, min(b, hi) - max(a, lo))
        if o > 0 and b > a:
            got += n * o / (b - a); span += o
    return round(got * 8 / span / 1e3, 1) if span > 0 else None  # bytes/ms -> Mbit/s
end = ivs[-1][1] if ivs else t_back
out["mbit_before"] = mbit(t_iperf + 1000, t_restart)
out["mbit_storm"] = mbit(t_restart, t_back)
out["mbit_after"] = mbit(t_back, end)
for k in ("storm", "after"):
    b, v = out["mbit_before"], out["mbit_" + k]
    out["ratio_" + k] = round(v / b, 2) if b and v is not None else None
# The stream's stall: seconds from the restart to the end of the first
# interval begun after it with >= 50 % of the before figure.
half = (out["mbit_before"] or 0) / 2
back = [b for a, b, n in ivs if a > t_restart and b > a and n * 8 / (b - a) / 1e3 >= half]
out["tcp_recovered_s"] = round((back[0] - t_restart) / 1000, 1) if half and back else None
replies, unanswered = [], set()
for line in open(ping, errors="replace"):
    m = re.match(r"\[(\d+\.\d+)\] (.*)", line)
    if not m: continue
    ts, rest = float(m.group(1)) * 1000, m.group(2)
    s = re.search(r"icmp_seq=(\d+)", rest)
    r = re.search(r"time=([0-9.]+) ms", rest)
    if "bytes from" in rest and s: replies.append((ts, int(s.group(1)), float(r.group(1)) if r else 0.0))
    elif "no answer yet" in rest and s and t_restart <= ts <= t_back: unanswered.add(int(s.group(1)))
answered = {s for _, s, _ in replies}
out["ping_lost_storm"] = len(unanswered - answered)
gap, gap_at, prev = 0.0, None, None
for ts, _, _ in replies:
    if prev is not None and ts >= t_restart and prev <= t_back and ts - prev > gap:
        gap, gap_at = ts - prev, prev
    prev = ts
out["ping_gap_ms"] = round(gap)
out["ping_gap_starts_ms"] = round(gap_at - t_restart) if gap_at is not None else None
# Round trips of the replies received during the storm (the offices back
# while the relay still takes in laptops).
rtts = sorted(rtt for ts, _, rtt in replies if t_restart <= ts <= t_back)
out["ping_rtt_storm_median_ms"] = round(rtts[len(rtts) // 2], 1) if rtts else None
out["ping_rtt_storm_max_ms"] = round(rtts[-1], 1) if rtts else None
print(json.dumps(out))
PY
figures=$("$PY" -c "$ANALYSE" "$LAB_RUN/iperf.json" "$LAB_RUN/logs/ping.log" "$t_iperf" "$t_restart" "$t_back")
fig() { "$PY" -c 'import json,sys; v = json.loads(sys.argv[1])[sys.argv[2]]; print("-" if v is None else v)' "$figures" "$1"; }

echo
echo "reconnect storm: $SESSIONS laptop sessions + 2 offices, $(nproc) CPUs, hint $HINT_MS ms, window $WINDOW_MS ms (offices: at most $OFFICE_WINDOW_MAX_MS ms of it; their stream: $( [[ $OFFICE_RATE == 0 ]] && echo unpaced || echo "$OFFICE_RATE"bit/s))"
printf '  %-52s %s\n' \
  "laptop setup" "${setup_line#sessions: }" \
  "old relay gone after SIGTERM" "$((t_stopped - t_restart)) ms${killed}" \
  "new relay listening" "$((t_listening - t_restart)) ms after the SIGTERM" \
  "laptops back" "$back of $total in $took s after the SIGTERM (target <= 15 s)" \
  "  of which after the new relay listened" "$(awk -v s="$took" -v l=$((t_listening - t_restart)) 'BEGIN { printf "%.2f s", s - l / 1000 }')" \
  "  resumed (session_load / relay tls_resumed)" "$resumed / $tls_resumed" \
  "  retries, failed" "$retries, $failed" \
  "  percentiles" "$(grep -m1 '^storm: first back' "$load_log" | sed 's/^storm: //')" \
  "CPU from the restart to all back: new relay, laptops" "$relay_cpu s, $load_cpu s (old relay's total before: $old_cpu s)" \
  "relay when all were back: sessions, handshake_failed" "$relay_sessions, $handshake_failed" \
  "offices' ping: longest gap" "$(fig ping_gap_ms) ms (from $(fig ping_gap_starts_ms) ms after the SIGTERM)" \
  "offices' ping: lost during the storm" "$(fig ping_lost_storm) (one every 50 ms)" \
  "offices' ping RTT during the storm: median, max" "$(fig ping_rtt_storm_median_ms) ms, $(fig ping_rtt_storm_max_ms) ms" \
  "iperf3 before (Mbit/s)" "$(fig mbit_before)" \
  "iperf3 during the storm (Mbit/s, ratio)" "$(fig mbit_storm) ($(fig ratio_storm))" \
  "iperf3 after (Mbit/s, ratio)" "$(fig mbit_after) ($(fig ratio_after))" \
  "iperf3 back at >= 50 % of before" "$(fig tcp_recovered_s) s after the SIGTERM (1 s intervals)"
grep -E '^  (lost|retried): ' "$load_log" | sed 's/^/  laptops /'

if [[ -n $JSON ]]; then
  "$PY" - "$figures" "$JSON" <<PY
import json, sys
d = json.loads(sys.argv[1])
d.update(sessions=$SESSIONS, back=$back, storm_s=$took, resumed=$resumed, failed=$failed, retries=$retries,
         relay_tls_resumed=$tls_resumed, relay_handshake_failed=$handshake_failed, relay_cpu_s=$relay_cpu,
         load_cpu_s=$load_cpu, old_relay_sigkilled=$sigkilled,
         old_relay_stop_ms=$((t_stopped - t_restart)), relay_listening_ms=$((t_listening - t_restart)),
         hint_ms=$HINT_MS, window_ms=$WINDOW_MS, office_window_max_ms=$OFFICE_WINDOW_MAX_MS, office_rate="$OFFICE_RATE", cpus=$(nproc))
json.dump(d, open(sys.argv[2], "w"), indent=1)
PY
  echo "figures written to $JSON"
fi

((iperf_rc == 0)) || broken "iperf3 failed (exit $iperf_rc)"
((back == total)) || broken "$((total - back)) laptop sessions not back within $STORM_TIMEOUT s"
lab_down
if [[ ${KEEP_RUN:-0} == 1 ]]; then echo "run directory kept: $LAB_RUN"; else rm -rf "$LAB_RUN"; fi
