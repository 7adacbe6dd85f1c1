#!/usr/bin/env bash
# Deployment 1, "two offices": both gateways run tund behind NAT firewalls that
# drop every inbound connection; the intermediary on the relay joins them.
# Topology: see the drawing at the top of integration/lib.sh.
#
# Proves, in order: the lab's firewalls (before any daemon); ping both ways,
# and from each gateway itself;
# 100 MB over TCP with matching sha256; UDP both ways with payload checks; a
# rogue site with a valid certificate cannot take office-b's name (told not
# to retry such refusals, its tund exits 78); expired and foreign-CA certificates are rejected; spoofed inner sources are dropped by the intermediary; SIGKILL + restart
# of the intermediary heals without restarting tund; SIGTERM makes tund remove
# its device and routes; a tun-address inside the LAN (the example config's)
# becomes the source of the gateway's own traffic.
#
# Env: BUILD_DIR (default build), OFFLOAD=on|off, LOG_LEVEL, TCP_BYTES,
# KEEP_RUN=1 keeps the run directory (logs, status files) even on success.
set -uo pipefail
# shellcheck disable=SC2119 # helpers take optional extra flags
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
TCP_BYTES=${TCP_BYTES:-$((100 * 1024 * 1024))}
UDP_COUNT=${UDP_COUNT:-2000}
LABNET=("$PY" "$LAB_ROOT/integration/labnet.py")

finish() {
  local rc=0
  summary || rc=1
  if ((rc != 0)); then lab_dump_logs 30; fi
  lab_down  # before the run directory goes: it holds the pids
  if ((rc != 0)) || [[ "${KEEP_RUN:-0}" == 1 ]]; then
    echo "run directory kept: $LAB_RUN"
  else
    rm -rf "$LAB_RUN"
  fi
  exit "$rc"
}

# ping_received NS DST COUNT : prints how many of COUNT echo requests were answered.
ping_received() {
  lab_exec "$1" ping -c "$3" -i 0.2 -W 1 -q "${@:4}" "$2" 2>/dev/null |
    awk '/received/ { print $4; found = 1 } END { if (!found) print 0 }'
}

nft_counter() { # nft_counter NS NAME : packets seen by counter NAME of table dlprobe
  lab_exec "$1" nft list counter ip dlprobe "$2" | awk '/packets/ { print $2 }'
}

log "two_offices: namespaces ${LAB_PREFIX}*, offload ${OFFLOAD:-on}, build $BUILD_DIR"
lab_up
log "run directory $LAB_RUN"

# --- 0. the lab itself -------------------------------------------------------
lab_check_firewalls

lab_require_daemons || { fail "daemon binaries present"; finish; }
lab_pki
for d in intermediary tund-a tund-b; do lab_notify_listen "$d"; done
t0=$(now_ms)
if lab_start_offices; then
  pass "intermediary and both tund registered within $(( $(now_ms) - t0 )) ms"
else
  fail "intermediary and both tund registered within 20 s (status: a=$(status_value "$(lab_status_file tund-a)" registered) b=$(status_value "$(lab_status_file tund-b)" registered))"
  finish
fi

# sd_notify: what Type=notify in systemd/*.service relies on.
check "intermediary sent READY=1 to \$NOTIFY_SOCKET ($(tr '\n' '|' < "$LAB_RUN/intermediary.notify"))" \
  wait_until 3 grep -q 'READY=1' "$LAB_RUN/intermediary.notify"
for d in tund-a tund-b; do
  check "$d sent READY=1 to \$NOTIFY_SOCKET ($(tr '\n' '|' < "$LAB_RUN/$d.notify"))" \
    wait_until 3 grep -q 'READY=1' "$LAB_RUN/$d.notify"
done

# --- 1. ping both ways -------------------------------------------------------
t0=$(now_ms)
if wait_until 15 lab_ping hostA 10.2.0.2; then
  pass "first ping hostA -> hostB answered $(( $(now_ms) - t0 )) ms after registration"
else
  fail "ping hostA -> hostB within 15 s of registration"
  finish
fi
n=$(ping_received hostA 10.2.0.2 10)
check "ping hostA -> hostB: $n/10 answered" test "$n" -eq 10
n=$(ping_received hostB 10.1.0.2 10)
check "ping hostB -> hostA: $n/10 answered" test "$n" -eq 10
n=$(ping_received hostA 10.2.0.2 5 -s 4000)
check "ping hostA -> hostB with 4000-byte (fragmented) echo: $n/5 answered" test "$n" -eq 5
# The gateways' own traffic: tund's routes into dl0 carry the gateway's LAN
# address as preferred source, which the intermediary accepts (without it
# the kernel picks another address and the datagrams are dropped as spoofed).
# (`ip route show` prints "src" only for a route that carries one; `ip route
# get` would print whichever address the kernel picked.)
for gw in "gwA 10.2.0.0/24 10.1.0.1" "gwB 10.1.0.0/24 10.2.0.1"; do
  read -r ns dst want <<< "$gw"
  src=$(lab_exec "$ns" ip -o route show "$dst" dev dl0 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p')
  check "$ns's route to $dst into dl0 carries preferred source $want (got ${src:-none})" test "$src" = "$want"
done
n=$(ping_received gwA 10.2.0.2 5)
check "ping from gwA itself -> hostB: $n/5 answered" test "$n" -eq 5
n=$(ping_received gwB 10.1.0.2 5)
check "ping from gwB itself -> hostA: $n/5 answered" test "$n" -eq 5

# --- 2. TCP bulk transfer ----------------------------------------------------
rm -f "$LAB_RUN/tcp.result"
lab_start tcp-sink hostB "${LABNET[@]}" tcp-sink 10.2.0.2 5001 150 "$LAB_RUN/tcp.result"
wait_until 5 test -e "$LAB_RUN/tcp.result.ready"
t0=$(now_ms)
sent=$(lab_exec hostA timeout 160 "${LABNET[@]}" tcp-send 10.2.0.2 5001 "$TCP_BYTES" 150 2>"$LAB_RUN/logs/tcp-send.err")
ms=$(( $(now_ms) - t0 ))
wait_until 10 test -s "$LAB_RUN/tcp.result"
read -r rbytes rsha _ < "$LAB_RUN/tcp.result" 2>/dev/null || { rbytes=0; rsha=none; }
read -r sbytes ssha <<< "${sent:-0 none}"
mbit=$(awk -v b="$rbytes" -v ms="$ms" 'BEGIN { printf "%.0f", (ms > 0 ? b * 8 / ms / 1000 : 0) }')
check "TCP hostA -> hostB: sent $sbytes bytes, received $rbytes, sha256 ${rsha:0:16}... $( [[ "$ssha" == "$rsha" ]] && echo matches || echo "differs from ${ssha:0:16}..." ) (${ms} ms, ~${mbit} Mbit/s)" \
  test "$sbytes" -eq "$TCP_BYTES" -a "$rbytes" -eq "$TCP_BYTES" -a "$ssha" == "$rsha"
lab_stop tcp-sink

# Informational (no verdict): kernel-to-kernel TCP throughput through the tunnel.
lab_start iperf3-server hostB iperf3 -s -1 -B 10.2.0.2 -p 5201
if wait_until 5 lab_listening hostB 5201; then
  gbit=$(lab_exec hostA timeout 20 iperf3 -c 10.2.0.2 -p 5201 -t 3 -J 2>/dev/null |
    "$PY" -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))' 2>/dev/null)
  echo "INFO: iperf3 TCP hostA -> hostB, 3 s, offload ${OFFLOAD:-on}: ${gbit:-n/a} Gbit/s"
fi
lab_stop iperf3-server

# --- 3. UDP both ways --------------------------------------------------------
lab_udp_check hostA hostB 10.2.0.2 5002
lab_udp_check hostB hostA 10.1.0.2 5003

# --- 4. a rogue site claims office-b -----------------------------------------
istatus=$(lab_status_file intermediary)
refused_before=$(status_value "$istatus" refused_register || echo 0)
lab_add_relay_host rogue 1
lab_start_tund tund-rogue rogue rogue-site office-b --advertise 10.3.0.0/24 --refused-retry-ms 0
if lab_wait_exit tund-rogue 20; then
  check "rogue tund (CN rogue-site, --name office-b) exits with status 78 (got $LAB_EXIT_STATUS)" \
    test "$LAB_EXIT_STATUS" -eq 78
else
  fail "rogue tund (CN rogue-site, --name office-b) exits within 20 s (still running)"
  lab_stop tund-rogue
fi
why=$(grep -Ei 'refus|not allowed|denied|forbidden|policy' "$LAB_RUN/logs/tund-rogue.log" | tail -n 1)
check "rogue tund's log says why: ${why:-<nothing matching refus|not allowed|denied|policy>}" test -n "$why"
wait_until 3 status_ge "$istatus" refused_register $((refused_before + 1))
check "intermediary counted the refusal (refused_register $refused_before -> $(status_value "$istatus" refused_register))" \
  status_ge "$istatus" refused_register $((refused_before + 1))
check "office-b still registered after the rogue attempt" status_is "$(lab_status_file tund-b)" registered 1
n=$(ping_received hostA 10.2.0.2 5)
check "ping hostA -> hostB after the rogue attempt: $n/5 answered" test "$n" -eq 5

# --- 4b. certificates the intermediary must not accept -----------------------
for bad in expired-site foreign-site; do
  hs_before=$(status_value "$istatus" handshake_failed || echo 0)
  lab_start_tund "tund-$bad" rogue "$bad" rogue --advertise 10.3.0.0/24
  if wait_until 10 status_ge "$istatus" handshake_failed $((hs_before + 1)); then
    pass "intermediary rejects the $bad certificate (handshake_failed $hs_before -> $(status_value "$istatus" handshake_failed))"
  else
    fail "intermediary rejects the $bad certificate (handshake_failed still $(status_value "$istatus" handshake_failed))"
  fi
  check "tund with the $bad certificate never registered and keeps retrying (alive, registered=$(status_value "$(lab_status_file "tund-$bad")" registered))" \
    eval "lab_alive tund-$bad && ! status_is '$(lab_status_file "tund-$bad")' registered 1"
  lab_stop "tund-$bad"
done

# --- 5. spoofed inner source -------------------------------------------------
lab_exec hostB nft -f - <<'NFT'
table ip dlprobe {
  counter spoofed { }
  counter legit { }
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    ip saddr 10.99.0.1 counter name "spoofed"
    ip saddr 10.1.0.1 counter name "legit"
  }
}
NFT
lab_exec gwA ip addr add 10.99.0.1/32 dev lo
n=$(ping_received gwA 10.2.0.2 3 -I 10.1.0.1)
check "control: gwA pings hostB from 10.1.0.1 (inside office-a): $n/3 answered, hostB saw $(nft_counter hostB legit)" \
  test "$n" -eq 3 -a "$(nft_counter hostB legit)" -ge 3
spoof_before=$(status_value "$istatus" drop_spoofed_source || echo 0)
n=$(ping_received gwA 10.2.0.2 5 -I 10.99.0.1)
check "spoofed pings from 10.99.0.1: $n/5 answered, hostB saw $(nft_counter hostB spoofed) (both must be 0)" \
  test "$n" -eq 0 -a "$(nft_counter hostB spoofed)" -eq 0
if wait_until 3 status_ge "$istatus" drop_spoofed_source $((spoof_before + 1)); then
  pass "intermediary drop_spoofed_source rose $spoof_before -> $(status_value "$istatus" drop_spoofed_source)"
else
  fail "intermediary drop_spoofed_source rose (still $(status_value "$istatus" drop_spoofed_source); tund-a: $(grep -E '^(tx_packets|drop_)' "$(lab_status_file tund-a)" | tr '\n' ' '))"
fi

# --- 6. SIGKILL and restart the intermediary ---------------------------------
pid_a=$(lab_pid tund-a); pid_b=$(lab_pid tund-b)
rc_a=$(status_value "$(lab_status_file tund-a)" reconnects || echo 0)
t0=$(now_ms)
lab_stop intermediary KILL
lab_start_intermediary
if wait_until 30 lab_ping hostA 10.2.0.2; then
  pass "traffic resumed $(( $(now_ms) - t0 )) ms after SIGKILL + restart of the intermediary"
else
  fail "traffic resumed within 30 s after SIGKILL + restart of the intermediary"
fi
n=$(ping_received hostB 10.1.0.2 5)
check "ping hostB -> hostA after the restart: $n/5 answered" test "$n" -eq 5
check "neither tund restarted (pids $pid_a $pid_b alive and unchanged)" \
  eval "kill -0 $pid_a && kill -0 $pid_b && [[ \$(lab_pid tund-a) == $pid_a && \$(lab_pid tund-b) == $pid_b ]]"
check "tund-a counted the reconnect (reconnects $rc_a -> $(status_value "$(lab_status_file tund-a)" reconnects))" \
  status_ge "$(lab_status_file tund-a)" reconnects $((rc_a + 1))

# --- 7. clean shutdown -------------------------------------------------------
lab_exec gwA ip route show > "$LAB_RUN/gwA.routes.before"
kill -TERM "$pid_a"
if lab_wait_exit tund-a 5; then
  pass "tund-a exited within 5 s of SIGTERM (status $LAB_EXIT_STATUS)"
else
  fail "tund-a exited within 5 s of SIGTERM"
  lab_stop tund-a KILL
fi
check "tund-a's dl0 device is gone" eval '! lab_exec gwA ip link show dl0 >/dev/null 2>&1'
check "gwA has no route to office-b left ($(lab_exec gwA ip route show 10.2.0.0/24 | tr '\n' ' '))" \
  test -z "$(lab_exec gwA ip route show 10.2.0.0/24)"

# --- 8. a tun-address inside the LAN, as in docs/examples/office-a.conf ------
# It is preferred over the LAN interface's address as the routes' source.
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24 --tun-address 10.1.0.254/32
route_src() { lab_exec gwA ip -o route show 10.2.0.0/24 dev dl0 2>/dev/null | sed -n 's/.* src \([^ ]*\).*/\1/p'; }
# shellcheck disable=SC2317 # called through wait_until
route_src_is_tun_address() { [[ "$(route_src)" == 10.1.0.254 ]]; }
if wait_until 20 route_src_is_tun_address; then
  pass "tund-a with tun-address 10.1.0.254/32: its route to 10.2.0.0/24 prefers that source"
else
  fail "tund-a with tun-address 10.1.0.254/32: route to 10.2.0.0/24 with src 10.1.0.254 (got $(route_src))"
fi
n=$(ping_received gwA 10.2.0.2 5)
check "ping from gwA itself (source 10.1.0.254) -> hostB: $n/5 answered" test "$n" -eq 5

finish
