#!/usr/bin/env bash
# IPv6 end to end: the outer transport over IPv6, IPv4 and IPv6 LANs inside,
# a laptop numbered from a v6 pool inside HQ's v6 LAN.
#
#  hostA 10.1.0.2          gwA [tund-a]         relay                 gwB [tund-b, HQ]      hostB 10.2.0.2
#        fd00:1::2 -- lan0 10.1.0.1    wan0 192.0.2.2 ------ 203.0.113.1 ------ 198.51.100.2 wan0   lan0 -- fd00:2::2
#                          fd00:1::1        2001:db8:a::2    2001:db8:ff::1     2001:db8:b::2        fd00:2::1
#                                                            (intermediary,
#                                                             default listen [::]:443)
#  laptop 192.168.2.2 -- lapfw (v4 NAT, 100.64.2.2) -- relay      pool 10.2.0.192/27 + fd00:2::100/120
#
# integration/lib.sh with LAB_IPV6=1 and lab_add_ipv6: the same outbound-only
# firewalls (the inet table filters v6 statefully; v6 gets neighbour discovery
# on the WAN and no NAT: routed documentation addresses).
#
# Proves, in order: the firewalls hold for v6 too; the intermediary, started
# without --listen, listens dual-stack on [::]:443; office A dials the
# intermediary at [2001:db8:ff::1]:443, office B dials the NAME "intermediary"
# that resolves to both families (/etc/netns/<ns>/hosts) and picks IPv6; each
# office advertises a 10.x/24 and an fd00:..::/64; ping and ping6 cross both
# ways; a 100 MiB TCP transfer over v6 inside (offloads on: TSO6/GSO
# superpackets) with matching sha256; UDP over v6 including fragmented
# datagrams; a laptop gets a v6 pool address inside HQ's fd00:2::/64 and hostB
# reaches it by that address (gwB's proxy NDP entry answers); with IPv6 to the
# relay black-holed at gwB, tund-b falls back to IPv4 within a few seconds
# (happy eyeballs: not a TCP timeout) and the intermediary shows its v4-mapped
# peer as plain IPv4; then gwB's IPv4 address changes and tund-b notices at
# once (its roaming check follows the family in use), not after dead-after.
#
# Env: BUILD_DIR (default build), LOG_LEVEL, V6_BYTES (default 100 MiB),
# KEEP_RUN=1 keeps the run directory.
# shellcheck disable=SC2016,SC2034,SC2317
set -uo pipefail
LAB_PREFIX=${LAB_PREFIX:-dlv6$$-}
LAB_IPV6=1
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
V6_BYTES=${V6_BYTES:-$((100 * 1024 * 1024))}
UDP_COUNT=${UDP_COUNT:-500}
POOL4=10.2.0.192/27
POOL6=fd00:2::100/120

ctl() { "$DIALOUTCTL_BIN" --socket "$LAB_RUN/$1.sock" "${@:2}"; }
# remotes NAME : the "remote" column of every uplink of tund NAME, one a line.
remotes() { ctl "$1" status --json 2>/dev/null | "$PY" -c '
import json, sys
for r in json.load(sys.stdin).get("uplinks", []):
    print(r.get("remote", ""))'; }
# all_remotes_are NAME ENDPOINT : every uplink of NAME is ready on ENDPOINT.
all_remotes_are() { local r; r=$(remotes "$1"); [[ -n "$r" ]] && ! grep -qvxF "$2" <<< "$r"; }
ping6_received() { lab_ping_received "$@" -6; }
# tun_address6 NS : the global IPv6 address on dl0 (empty if none).
tun_address6() {
  lab_exec "$1" ip -6 -o addr show dev dl0 scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }'
}
in_pool6() { [[ "$1" =~ ^fd00:2::1[0-9a-f][0-9a-f]$ ]]; }

write_policy() {
  cat > "$LAB_RUN/policy.conf" <<'EOF'
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24, fd00:1::/64
reach = office-b

[identity gw-b]
register = office-b
advertise = 10.2.0.0/24, fd00:2::/64
reach = *

[identity alice]
register = laptop-alice
reach = office-b
EOF
}

log "ipv6: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
lab_add_ipv6
log "run directory $LAB_RUN"
ilog=$LAB_RUN/logs/intermediary.log
lab_add_nat_firewall lapfw 2
lab_add_laptop laptop lapfw 2 eth0 100
# The name "intermediary" has both addresses for office B (ip netns exec
# bind-mounts /etc/netns/<ns>/hosts over /etc/hosts).
hosts_dir=/etc/netns/$(ns gwB)
mkdir -p "$hosts_dir"
printf '%s intermediary\n%s intermediary\n' "$RELAY_PUBLIC" "$RELAY_PUBLIC6" > "$hosts_dir/hosts"
cleanup_hosts() { rm -rf "$hosts_dir"; }
trap 'cleanup_hosts; lab_down' EXIT

finish() { cleanup_hosts; lab_finish; }

# --- 0. the lab itself -------------------------------------------------------
check "baseline: gwA and gwB reach the relay's public v6 address" \
  eval 'lab_ping gwA '"$RELAY_PUBLIC6"' && lab_ping gwB '"$RELAY_PUBLIC6"
check "baseline: hostA cannot reach hostB over v4 or v6 without the tunnel" \
  eval '! lab_ping hostA 10.2.0.2 && ! lab_ping hostA fd00:2::2 && ! lab_ping hostB fd00:1::2'
lab_listen probe-gwA gwA :: 2222 15
lab_exec relay ip -6 route add fd00:1::/64 via 2001:db8:a::2
check "baseline: gwA drops inbound v6 TCP and ICMPv6 from the WAN (to 2001:db8:a::2:2222, to hostA)" \
  eval '! lab_tcp_open relay 2001:db8:a::2 2222 && ! lab_ping relay fd00:1::2'
check "baseline: a listener on gwA is reachable from its LAN over v6" lab_tcp_open hostA fd00:1::1 2222
lab_exec relay ip -6 route del fd00:1::/64 via 2001:db8:a::2
lab_stop probe-gwA

lab_require_daemons || { fail "daemon binaries present"; finish; }
lab_pki alice
write_policy

# --- 1. the intermediary listens on both families by default -----------------
LAB_LISTEN=default lab_start_intermediary --address-pool "$POOL4" --address-pool "$POOL6"
check "intermediary (no --listen) listens on [::]:443" wait_until 10 lab_listening relay 443 ||
  finish
line=$(lab_exec relay ss -Hltn "sport = :443" | awk '{ print $4 }' | head -n 1)
check "the listener is the dual-stack wildcard: ${line:-none}" test "$line" == "*:443" -o "$line" == "[::]:443"

# --- 2. both offices over IPv6 ------------------------------------------------
LAB_INTERMEDIARY="[$RELAY_PUBLIC6]:443" \
  lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24 --advertise fd00:1::/64
LAB_INTERMEDIARY="intermediary:443" \
  lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24 --advertise fd00:2::/64 --proxy-arp on
check "both offices registered" \
  eval 'wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 && wait_until 20 status_is "$(lab_status_file tund-b)" registered 1'
wait_until 5 all_remotes_are tund-a "[$RELAY_PUBLIC6]:443"
check "tund-a's uplinks run over IPv6: $(remotes tund-a | sort -u | tr '\n' ' ')" all_remotes_are tund-a "[$RELAY_PUBLIC6]:443"
wait_until 5 all_remotes_are tund-b "[$RELAY_PUBLIC6]:443"
check "tund-b resolved \"intermediary\" to both families and prefers IPv6: $(remotes tund-b | sort -u | tr '\n' ' ')" \
  all_remotes_are tund-b "[$RELAY_PUBLIC6]:443"

# --- 3. v4 and v6 inside ---------------------------------------------------------
wait_until 10 lab_ping hostA 10.2.0.2
n=$(lab_ping_received hostA 10.2.0.2 5)
check "hostA pings hostB 10.2.0.2: $n/5" test "$n" -eq 5
wait_until 10 lab_ping hostA fd00:2::2
n=$(ping6_received hostA fd00:2::2 5)
check "hostA ping6 hostB fd00:2::2: $n/5" test "$n" -eq 5
n=$(ping6_received hostB fd00:1::2 5)
check "hostB ping6 hostA fd00:1::2: $n/5" test "$n" -eq 5
n=$(ping6_received hostA fd00:2::2 3 -s 3000)
check "hostA ping6 -s 3000 (fragmented ICMPv6) hostB: $n/3" test "$n" -eq 3
astatus=$(lab_status_file tund-a)
p0=$(status_value "$astatus" tx_packets); b0=$(status_value "$astatus" tx_bytes)
lab_tcp_transfer hostA fd00:2::2 5201 "$V6_BYTES"
wait_until 3 status_ge "$astatus" tx_bytes $((b0 + V6_BYTES))  # the status file is rewritten each second
p1=$(status_value "$astatus" tx_packets); b1=$(status_value "$astatus" tx_bytes)
avg=$(( (b1 - b0) / ((p1 - p0) > 0 ? (p1 - p0) : 1) ))
if [[ "${OFFLOAD:-on}" == on ]]; then
  # 1500-byte datagrams would average under 1500; TSO6 superpackets read
  # from dl0 and carried whole average tens of kilobytes.
  check "the v6 transfer left dl0 as superpackets: $((p1 - p0)) reads averaging $avg bytes (> 8000)" \
    test "$avg" -gt 8000
fi
lab_udp_check hostA hostB fd00:2::2 5301

# --- 4. a laptop with a v6 pool address inside HQ's v6 LAN -----------------------
lab_start_tund tund-lap laptop alice laptop-alice --request-address on
check "the laptop registered" wait_until 20 status_is "$(lab_status_file tund-lap)" registered 1
wait_until 5 eval '[[ -n "$(tun_address6 laptop)" ]]'
lap6=$(tun_address6 laptop)
check "the laptop got ${lap6:-no v6 address} from $POOL6 on dl0" in_pool6 "$lap6"
if [[ -n "$lap6" ]]; then
  wait_until 10 lab_ping hostB "$lap6"
  n=$(ping6_received hostB "$lap6" 5)
  check "hostB ping6 the laptop at $lap6 (on its own LAN prefix): $n/5" test "$n" -eq 5
  check "gwB holds a proxy NDP entry for $lap6" \
    eval '[[ -n "$(lab_exec gwB ip -6 neigh show proxy "$lap6")" ]]'
  gw_mac=$(lab_exec gwB cat /sys/class/net/lan0/address)
  nb=$(lab_exec hostB ip -6 neigh show "$lap6" dev eth0)
  check "hostB's neighbour entry for $lap6 is gwB's MAC ($gw_mac): ${nb:-none}" grep -q "$gw_mac" <<< "$nb"
  n=$(ping6_received laptop fd00:2::2 3)
  check "the laptop ping6 hostB fd00:2::2: $n/3" test "$n" -eq 3
fi

# --- 5. IPv6 black-holed: happy eyeballs falls back to IPv4 -----------------------
lab_exec gwB nft -f - <<NFT
table inet dlblock {
  chain output {
    type filter hook output priority filter; policy accept;
    ip6 daddr $RELAY_PUBLIC6 tcp dport 443 counter drop
  }
}
NFT
lab_stop tund-b
rm -f "$(lab_status_file tund-b)"
t0=$(now_ms)
LAB_INTERMEDIARY="intermediary:443" \
  lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24 --advertise fd00:2::/64 --proxy-arp on
wait_until 20 status_is "$(lab_status_file tund-b)" registered 1
ms=$(( $(now_ms) - t0 ))
check "with IPv6 to the relay dropped, tund-b registered in ${ms} ms (< 5000: no waiting for a TCP timeout)" \
  test "$ms" -lt 5000
dropped=$(lab_exec gwB nft list chain inet dlblock output | awk '{ for (i = 1; i < NF; ++i) if ($i == "packets") { print $(i + 1); exit } }')
check "tund-b tried IPv6 first (${dropped:-0} SYNs to [$RELAY_PUBLIC6]:443 dropped)" test "${dropped:-0}" -gt 0
wait_until 5 all_remotes_are tund-b "$RELAY_PUBLIC:443"
check "tund-b's uplinks fell back to IPv4: $(remotes tund-b | sort -u | tr '\n' ' ')" all_remotes_are tund-b "$RELAY_PUBLIC:443"
wait_until 10 lab_ping hostA fd00:2::2
n=$(ping6_received hostA fd00:2::2 3)
check "hostA ping6 hostB through the v4 uplink: $n/3" test "$n" -eq 3
check "the intermediary shows the v4 peer 198.51.100.2 as plain IPv4 (no ::ffff:)" \
  eval 'grep -q "198\.51\.100\.2:" "$ilog" && ! grep -q "::ffff:" "$ilog"'

# --- 6. roaming on the family in use: gwB's IPv4 address changes -----------------
blog=$LAB_RUN/logs/tund-b.log
check "tund-b's roaming check follows the IPv4 address it settled on" \
  wait_until 5 grep -q "roaming check: watching the route to $RELAY_PUBLIC" "$blog"
bstatus=$(lab_status_file tund-b)
lab_exec gwB ip addr del 198.51.100.2/24 dev wan0
lab_exec gwB ip addr add 198.51.100.3/24 dev wan0
lab_exec gwB ip route replace default via 198.51.100.1
t0=$(now_ms)
wait_until 5 status_ge "$bstatus" roams 1
ms=$(( $(now_ms) - t0 ))
check "tund-b noticed its IPv4 address change and reconnected in ${ms} ms (roams $(status_value "$bstatus" roams); < 5000, not dead-after)" \
  status_ge "$bstatus" roams 1
check "the intermediary sees office-b from 198.51.100.3" wait_until 10 grep -q "198\.51\.100\.3:.*registered 'office-b'" "$ilog"
wait_until 10 lab_ping hostA fd00:2::2
n=$(ping6_received hostA fd00:2::2 3)
check "hostA ping6 hostB after the roam: $n/3" test "$n" -eq 3

finish
