#!/usr/bin/env bash
# Deployment 2, "one-armed proxy client": tund runs on an ordinary HQ LAN host
# (hostP), not on HQ's gateway, and masquerades what it repeats on the LAN
# behind its own LAN address, so HQ's hosts answer it without any route back.
#
#  hostA 10.1.0.2 -- gwA [tund office-a, NAT fw] -- relay [intermediary] -- gwB [NAT fw, NO tund]
#                                                                             | lan0 10.2.0.1
#                                                                        swB (bridge)
#                                                                         |          |
#                                                             hostB 10.2.0.2    hostP 10.2.0.3
#                                                                               [tund hq,
#                                                                                --masquerade on]
#
# hostP dials out through gwB's NAT like any LAN host. Proves: without hostP's
# tund office A cannot reach HQ; with it hostA pings hostB and opens TCP to it,
# and hostB sees hostP's address (10.2.0.3) as the source, never 10.1.0.2;
# the masquerade table exists while tund runs and is gone after it exits.
#
# Env: BUILD_DIR (default build), LOG_LEVEL, KEEP_RUN=1 keeps the run directory.
# Checks are eval strings that expand when run (SC2016).
# shellcheck disable=SC2016
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
LABNET=("$PY" "$LAB_ROOT/integration/labnet.py")

finish() {
  local rc=0
  summary || rc=1
  if ((rc != 0)); then lab_dump_logs 30; fi
  lab_down
  if ((rc != 0)) || [[ "${KEEP_RUN:-0}" == 1 ]]; then
    echo "run directory kept: $LAB_RUN"
  else
    rm -rf "$LAB_RUN"
  fi
  exit "$rc"
}

ping_received() {
  lab_exec "$1" ping -c "$3" -i 0.2 -W 1 -q "${@:4}" "$2" 2>/dev/null |
    awk '/received/ { print $4; found = 1 } END { if (!found) print 0 }'
}
nft_counter() { lab_exec "$1" nft list counter ip dlprobe "$2" | awk '/packets/ { print $2 }'; }
dialout_tables() { lab_exec hostP nft list tables 2>/dev/null | grep -c 'dialout_'; }

log "one_armed: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
log "run directory $LAB_RUN"
lab_add_lan_host B hostP 10.2.0.3/24
lab_sysctl hostP net.ipv4.ip_forward=1

check "baseline: hostB and hostP share HQ's LAN (hostB pings 10.2.0.3) and hostP reaches the relay through gwB's NAT" \
  eval 'wait_until 5 lab_ping hostB 10.2.0.3 && wait_until 5 lab_ping hostP '"$RELAY_PUBLIC"
check "baseline: hostA cannot reach hostB without the tunnel" eval '! lab_ping hostA 10.2.0.2'

lab_require_daemons || { fail "daemon binaries present"; finish; }
lab_pki gw-p
cat > "$LAB_RUN/policy.conf" <<'EOF'
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
reach = hq

# The one-armed proxy client on hostP serves HQ's LAN.
[identity gw-p]
register = hq
advertise = 10.2.0.0/24
reach = office-a
EOF
lab_start_intermediary
wait_until 10 lab_listening relay 443 || { fail "intermediary listens on $RELAY_PUBLIC:443"; finish; }
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24
if ! tund_has_flag masquerade; then
  fail "feature not available: tund --masquerade"
  finish
fi
p_flags=(--advertise 10.2.0.0/24 --masquerade on)
# A one-armed host must not answer ARP for anyone: it is not the LAN's router.
tund_has_flag proxy-arp && p_flags+=(--proxy-arp off)
lab_start_tund tund-p hostP gw-p hq "${p_flags[@]}"
check "tund on gwA and on hostP registered" \
  eval 'wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 && wait_until 20 status_is "$(lab_status_file tund-p)" registered 1'
check "gwB runs no tund and has no route to office A" \
  eval '! lab_exec gwB ip link show dl0 >/dev/null 2>&1 && [[ -z "$(lab_exec gwB ip route show 10.1.0.0/24)" ]]'
check "hostP holds a dialout_ masquerade table while tund runs ($(lab_exec hostP nft list tables 2>/dev/null | grep dialout_ | tr '\n' ' '))" \
  wait_until 5 eval '(( $(dialout_tables) >= 1 ))'

lab_exec hostB nft -f - <<'NFT'
table ip dlprobe {
  counter from_p { }
  counter from_a { }
  chain pre {
    type filter hook prerouting priority raw; policy accept;
    ip saddr 10.2.0.3 icmp type echo-request counter name "from_p"
    ip saddr 10.1.0.2 counter name "from_a"
  }
}
NFT

if wait_until 15 lab_ping hostA 10.2.0.2; then
  n=$(ping_received hostA 10.2.0.2 10)
  check "hostA pings hostB through the one-armed proxy client: $n/10 answered" test "$n" -eq 10
else
  fail "hostA pings hostB within 15 s"
fi
check "hostB saw the echo requests from hostP's 10.2.0.3 ($(nft_counter hostB from_p) packets) and none from 10.1.0.2 ($(nft_counter hostB from_a))" \
  eval '(( $(nft_counter hostB from_p) >= 10 && $(nft_counter hostB from_a) == 0 ))'

lab_listen peers-b hostB 10.2.0.2 5005 20
check "hostA opens TCP to hostB:5005" lab_tcp_open hostA 10.2.0.2 5005
wait_until 3 test -s "$LAB_RUN/peers-b.peers"
check "hostB's listener saw the connection from $(sort -u "$LAB_RUN/peers-b.peers" 2>/dev/null | tr '\n' ' ')(must be 10.2.0.3 only)" \
  eval '[[ "$(sort -u "$LAB_RUN/peers-b.peers" 2>/dev/null)" == 10.2.0.3 ]]'
lab_stop peers-b

rm -f "$LAB_RUN/tcp.result"
lab_start tcp-sink hostB "${LABNET[@]}" tcp-sink 10.2.0.2 5001 60 "$LAB_RUN/tcp.result"
wait_until 5 test -e "$LAB_RUN/tcp.result.ready"
bytes=$((20 * 1024 * 1024))
sent=$(lab_exec hostA timeout 60 "${LABNET[@]}" tcp-send 10.2.0.2 5001 "$bytes" 50 2>/dev/null)
wait_until 10 test -s "$LAB_RUN/tcp.result"
read -r rbytes rsha _ < "$LAB_RUN/tcp.result" 2>/dev/null || { rbytes=0; rsha=none; }
check "TCP hostA -> hostB through hostP: 20 MiB, received $rbytes, sha256 $( [[ "${sent#* }" == "$rsha" ]] && echo matches || echo differs)" \
  test "$rbytes" -eq "$bytes" -a "${sent#* }" == "$rsha"
lab_stop tcp-sink

lab_stop tund-p TERM 5
check "tund on hostP exited on SIGTERM (status $LAB_EXIT_STATUS)" test "$LAB_EXIT_STATUS" -eq 0
check "hostP's dialout_ nft tables are gone after tund exits ($(lab_exec hostP nft list tables 2>/dev/null | tr '\n' ' '))" \
  test "$(dialout_tables)" -eq 0
check "hostP's dl0 device is gone" eval '! lab_exec hostP ip link show dl0 >/dev/null 2>&1'
check "hostA no longer reaches hostB" eval '! lab_ping hostA 10.2.0.2'

finish
