#!/usr/bin/env bash
# shellcheck disable=SC2016 # eval '...' expands when the check runs, on purpose
# shellcheck disable=SC2317 # functions are called through check/eval
# Two offices with the SAME LAN range (192.168.1.0/24, and the same host
# addresses on it) joined through 1:1 prefix translation: office A is known
# to everyone else as 10.101.0.0/24 (`advertise = 192.168.1.0/24 as
# 10.101.0.0/24`), office B as 10.102.0.0/24. The intermediary's policy is
# written against 10.101/10.102 only.
#
#   office A                                                        office B
#  hostA 192.168.1.2/25 --lan0-- gwA --wan0-- relay --wan0-- gwB --lan0-- hostB 192.168.1.2/24
#                   192.168.1.1/25 |  192.0.2.2    198.51.100.2  192.168.1.1/24
#                           lan1 192.168.1.253/30
#                                  |
#                      up0 192.168.1.254/30
#                              rtrA            (a router inside office A's LAN)
#                    down0 192.168.1.129/26  MTU 1280
#                                  |
#                     hostA2 192.168.1.130/26  MTU 1280
#
# Proves: ping both ways and from gwA itself (its preferred source is its LAN
# address, translated); the far side sees the translated source (a TCP
# accept log); a TCP transfer each way with matching sha256 (superpackets
# with partial checksums through the translation); UDP with payload checks;
# ICMP errors through the translation: a connected UDP socket on hostB gets
# ECONNREFUSED from hostA's port unreachable (the quoted datagram's source
# and destination must both be translated back for the kernel to find the
# socket), and `ping -M "do" -s 1400` from hostB to hostA2 gets
# "Frag needed (mtu = 1280)" from rtrA as 10.101.0.254, and hostB's kernel
# learns the 1280 path MTU for 10.101.0.130 (it only does when the quote
# names the address it sent to). The same over IPv6: both LANs fd00:1::/48
# (a /64 per link, the same addresses), translated as fd00:101::/48 and
# fd00:102::/48: ping, TCP, ECONNREFUSED and "Packet too big: mtu=1280".
#
# gwA runs with offloads (OFFLOAD, default on), gwB without (OFFLOAD_B,
# default off): gwB then cuts gwA's superpackets in software and completes
# their checksums from the partial sums both translations updated, and
# hostB's kernel verifies them. With offloads on both sides nothing would:
# a CHECKSUM_PARTIAL packet crosses veths to the receiving socket unverified,
# so a wrong partial-sum update goes unnoticed in a namespace lab (checked:
# it passes with the update deliberately broken, and fails with gwB off).
# Env: BUILD_DIR, OFFLOAD, OFFLOAD_B, LOG_LEVEL, TCP_BYTES, UDP_COUNT, KEEP_RUN=1.
set -uo pipefail
# shellcheck disable=SC2119 # helpers take optional extra flags
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

LAB_PREFIX=${LAB_PREFIX:-dlov$$-}
LAB_NAMES=(hostA gwA relay gwB hostB rtrA hostA2)
lab_require_root
TCP_BYTES=${TCP_BYTES:-$((64 * 1024 * 1024))}
UDP_COUNT=${UDP_COUNT:-1000}
LABNET=("$PY" "$LAB_ROOT/integration/labnet.py")

overlap_up() {
  lab_begin
  lab_link hostA eth0 192.168.1.2/25   gwA lan0 192.168.1.1/25
  lab_link gwA   lan1 192.168.1.253/30 rtrA up0 192.168.1.254/30
  lab_link rtrA  down0 192.168.1.129/26 hostA2 eth0 192.168.1.130/26
  lab_exec rtrA ip link set down0 mtu 1280
  lab_exec hostA2 ip link set eth0 mtu 1280
  lab_link gwA   wan0 192.0.2.2/24     relay toA 192.0.2.1/24
  lab_link relay toB 198.51.100.1/24   gwB wan0 198.51.100.2/24
  lab_link gwB   lan0 192.168.1.1/24   hostB eth0 192.168.1.2/24
  lab_exec relay ip addr add "$RELAY_PUBLIC/32" dev lo
  lab_exec hostA ip route add default via 192.168.1.1
  lab_exec rtrA ip route add default via 192.168.1.253
  lab_exec hostA2 ip route add default via 192.168.1.129
  lab_exec gwA ip route add 192.168.1.128/26 via 192.168.1.254
  lab_exec gwA ip route add default via 192.0.2.1
  lab_exec gwB ip route add default via 198.51.100.1
  lab_exec hostB ip route add default via 192.168.1.1
  for n in gwA relay gwB rtrA; do lab_sysctl "$n" net.ipv4.ip_forward=1; done
  # IPv6 inside the offices (lib.sh turns it off everywhere): the same
  # fd00:1::/48 on both sides, a /64 per link. Before tund starts, so its
  # device gets IPv6 too.
  for n in hostA gwA rtrA hostA2 gwB hostB; do
    lab_sysctl "$n" net.ipv6.conf.all.disable_ipv6=0
    lab_sysctl "$n" net.ipv6.conf.default.disable_ipv6=0
  done
  for n in gwA gwB rtrA; do lab_sysctl "$n" net.ipv6.conf.all.forwarding=1; done
  v6() { lab_exec "$1" ip -6 addr add "$2" dev "$3" nodad; }
  v6 hostA fd00:1::2/64 eth0;        v6 gwA fd00:1::1/64 lan0
  v6 gwA fd00:1:0:fc::1/64 lan1;     v6 rtrA fd00:1:0:fc::2/64 up0
  v6 rtrA fd00:1:0:80::1/64 down0;   v6 hostA2 fd00:1:0:80::2/64 eth0
  v6 gwB fd00:1::1/64 lan0;          v6 hostB fd00:1::2/64 eth0
  lab_exec hostA ip -6 route add default via fd00:1::1
  lab_exec rtrA ip -6 route add default via fd00:1:0:fc::1
  lab_exec hostA2 ip -6 route add default via fd00:1:0:80::1
  lab_exec gwA ip -6 route add fd00:1:0:80::/64 via fd00:1:0:fc::2
  lab_exec hostB ip -6 route add default via fd00:1::1
  lab_gateway_firewall gwA
  lab_gateway_firewall gwB
}

overlap_policy() {
  cat > "$LAB_RUN/policy.conf" <<'EOF'
# Written against the translated prefixes: the relay never sees 192.168.1.0/24.
[identity gw-a]
register = office-a
advertise = 10.101.0.0/24, fd00:101::/48
reach = office-b

[identity gw-b]
register = office-b
advertise = 10.102.0.0/24, fd00:102::/48
reach = office-a
EOF
}

# udp_refused NS ADDR PORT : a connected UDP socket gets ECONNREFUSED (the
# peer's ICMP port unreachable, matched by the kernel to this socket).
udp_refused() {
  lab_exec "$1" "$PY" - "$2" "$3" <<'PYEOF'
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(0.5)
for _ in range(6):
    try:
        s.send(b"anyone there?")
        s.recv(100)
    except ConnectionRefusedError:
        sys.exit(0)
    except socket.timeout:
        continue
sys.exit(1)
PYEOF
}

# transfer FROM SINK_NS DST PORT BYTES : TCP through the translation, sink bound to
# the wildcard (its own address is not the one the sender dials).
transfer() {
  local from=$1 sink=$2 dst=$3 port=$4 bytes=$5 res=$LAB_RUN/tcp-$4.result sent t0 ms rbytes rsha sbytes ssha any=0.0.0.0
  [[ "$dst" == *:* ]] && any=::
  lab_start "tcp-sink-$port" "$sink" "${LABNET[@]}" tcp-sink "$any" "$port" 60 "$res"
  wait_until 5 test -e "$res.ready"
  t0=$(now_ms)
  sent=$(lab_exec "$from" timeout 70 "${LABNET[@]}" tcp-send "$dst" "$port" "$bytes" 60 2>>"$LAB_RUN/logs/tcp-send.err")
  ms=$(( $(now_ms) - t0 ))
  wait_until 10 test -s "$res"
  read -r rbytes rsha _ < "$res" 2>/dev/null || { rbytes=0; rsha=none; }
  read -r sbytes ssha <<< "${sent:-0 none}"
  check "TCP $from -> $dst:$port: sent $sbytes bytes, received $rbytes, sha256 $( [[ "$ssha" == "$rsha" ]] && echo matches || echo differs ) (${ms} ms)" \
    test "$sbytes" -eq "$bytes" -a "$rbytes" -eq "$bytes" -a "$ssha" == "$rsha"
  lab_stop "tcp-sink-$port"
}

log "overlap: namespaces ${LAB_PREFIX}*, offload gwA ${OFFLOAD:-on} gwB ${OFFLOAD_B:-off}, build $BUILD_DIR"
overlap_up
log "run directory $LAB_RUN"
lab_require_daemons || { fail "daemon binaries present"; lab_finish; }

check "baseline: hostA and hostB have the same address, and neither reaches the other's translated range" \
  eval '[[ -n "$(lab_exec hostA ip -o addr show to 192.168.1.2)" && -n "$(lab_exec hostB ip -o addr show to 192.168.1.2)" ]] &&
        ! lab_ping hostA 10.102.0.2 && ! lab_ping hostB 10.101.0.2'

lab_pki
overlap_policy
lab_start_intermediary
wait_until 10 lab_listening relay 443 || fail "intermediary listening"
lab_start_tund tund-a gwA gw-a office-a --advertise '192.168.1.0/24 as 10.101.0.0/24' \
  --advertise 'fd00:1::/48 as fd00:101::/48'
lab_start_tund tund-b gwB gw-b office-b --advertise '192.168.1.0/24 as 10.102.0.0/24' \
  --advertise 'fd00:1::/48 as fd00:102::/48' --offload "${OFFLOAD_B:-off}"
check "both offices registered their translated prefixes (the policy knows nothing else)" \
  eval 'wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 &&
        wait_until 20 status_is "$(lab_status_file tund-b)" registered 1' || lab_finish

relay_routes=$("$DIALOUTCTL_BIN" --socket "$LAB_RUN/intermediary.sock" routes 2>&1)
check "the intermediary knows office-a as 10.101.0.0/24 and office-b as 10.102.0.0/24, never 192.168.1.0/24 ($(grep -Eo '(10\.10[12]|192\.168)[0-9./]*' <<< "$relay_routes" | sort -u | tr '\n' ' '))" \
  eval 'grep -q "10.101.0.0/24" <<< "$relay_routes" && grep -q "10.102.0.0/24" <<< "$relay_routes" &&
        ! grep -q "192.168" <<< "$relay_routes"'

# --- 1. ping, and who the far side sees --------------------------------------
check "ping hostA -> hostB as 10.102.0.2" wait_until 15 lab_ping hostA 10.102.0.2
check "ping hostB -> hostA as 10.101.0.2, and hostA2 behind rtrA as 10.101.0.130" \
  eval 'lab_ping hostB 10.101.0.2 && lab_ping hostB 10.101.0.130'
check "ping from gwA itself (its LAN address as source, translated) -> 10.102.0.2" lab_ping gwA 10.102.0.2 3
lab_listen peers-b hostB 0.0.0.0 7000 10
lab_tcp_open hostA 10.102.0.2 7000
wait_until 3 test -s "$LAB_RUN/peers-b.peers"
check "hostB sees hostA's connection from 10.101.0.2 ($(tr '\n' ' ' < "$LAB_RUN/peers-b.peers"))" \
  grep -qx 10.101.0.2 "$LAB_RUN/peers-b.peers"
lab_stop peers-b

# --- 2. TCP and UDP -----------------------------------------------------------
transfer hostA hostB 10.102.0.2 5001 "$TCP_BYTES"
transfer hostB hostA 10.101.0.2 5002 $((TCP_BYTES / 4))
res=$LAB_RUN/udp.result
lab_start udp-sink hostB "${LABNET[@]}" udp-sink 0.0.0.0 5003 20 "$res" "$UDP_COUNT"
wait_until 5 test -e "$res.ready"
lab_exec hostA timeout 30 "${LABNET[@]}" udp-send 10.102.0.2 5003 "$UDP_COUNT" 1
wait_until 25 test -s "$res"
line=$(cat "$res" 2>/dev/null)
valid=$(awk '{ print $2 }' <<< "$line"); invalid=$(awk '{ print $4 }' <<< "$line")
check "UDP hostA -> 10.102.0.2: ${line:-no result} (need >= 99 % of $UDP_COUNT, 0 invalid)" \
  test "${valid:-0}" -ge $((UDP_COUNT * 99 / 100)) -a "${invalid:-1}" -eq 0
lab_stop udp-sink

# --- 3. ICMP errors through the translation ----------------------------------
check "UDP to a closed port on hostA (10.101.0.2:9) gives hostB's connected socket ECONNREFUSED" \
  udp_refused hostB 10.101.0.2 9
check "...and the other way (hostA -> 10.102.0.2:9)" udp_refused hostA 10.102.0.2 9
out=$(lab_exec hostB ping -c 2 -i 0.3 -W 1 -M "do" -s 1400 10.101.0.130 2>&1)
check "ping -M do -s 1400 hostB -> hostA2: 'Frag needed (mtu = 1280)' from rtrA as 10.101.0.254 ($(grep -m1 -i 'mtu' <<< "$out"))" \
  grep -Eq 'From 10\.101\.0\.254 .*(mtu = 1280|mtu=1280)' <<< "$out"
check "hostB's kernel learnt path MTU 1280 for 10.101.0.130 ($(lab_exec hostB ip route get 10.101.0.130 | tr '\n' ' '))" \
  eval 'lab_exec hostB ip route get 10.101.0.130 | grep -q "mtu 1280"'
check "after that, 1252-byte pings fit (1280 with headers)" \
  eval 'lab_exec hostB ping -c 2 -i 0.2 -W 1 -q -M "do" -s 1252 10.101.0.130 >/dev/null'

# --- 4. the same over IPv6 -----------------------------------------------------
check "IPv6: ping hostA -> hostB as fd00:102::2, hostB -> hostA2 as fd00:101:0:80::2" \
  eval 'wait_until 5 lab_ping hostA fd00:102::2 && lab_ping hostB fd00:101:0:80::2'
transfer hostA hostB fd00:102::2 5004 $((TCP_BYTES / 4))
check "IPv6: UDP to a closed port on hostA (fd00:101::2) gives hostB's connected socket ECONNREFUSED" \
  udp_refused hostB fd00:101::2 9
out=$(lab_exec hostB ping -c 2 -i 0.3 -W 1 -M "do" -s 1400 fd00:101:0:80::2 2>&1)
check "IPv6: ping -M do -s 1400 hostB -> hostA2: 'Packet too big (mtu=1280)' from rtrA as fd00:101:0:fc::2 ($(grep -m1 -i 'mtu' <<< "$out"))" \
  grep -Eq 'From fd00:101:0:fc::2 .*mtu ?= ?1280' <<< "$out"
check "IPv6: hostB's kernel learnt path MTU 1280 for fd00:101:0:80::2 ($(lab_exec hostB ip -6 route get fd00:101:0:80::2 | tr '\n' ' '))" \
  eval 'lab_exec hostB ip -6 route get fd00:101:0:80::2 | grep -q "mtu 1280"'

# Both gateways rewrote traffic each way (the status file is rewritten
# periodically, hence the bounded wait).
for d in tund-a tund-b; do
  for k in translated_out translated_in; do
    check "$d counted datagrams it translated ($k $(status_value "$(lab_status_file "$d")" "$k"))" \
      wait_until 10 status_ge "$(lab_status_file "$d")" "$k" 1
  done
done
for d in tund-a tund-b; do
  check "$d dropped nothing as invalid (drop_invalid $(status_value "$(lab_status_file "$d")" drop_invalid))" \
    status_is "$(lab_status_file "$d")" drop_invalid 0
done
check "the intermediary dropped no datagram as spoofed (drop_spoofed_source $(status_value "$(lab_status_file intermediary)" drop_spoofed_source))" \
  status_is "$(lab_status_file intermediary)" drop_spoofed_source 0

lab_finish
