# shellcheck shell=bash disable=SC2034,SC2119,SC2120
# Shared lab for dialout's namespace tests. Source it; do not run it.
#
#        office A (behind NAT)              public                office B (behind NAT)
#
#  hostA            gwA                      relay                      gwB              hostB
# +--------+     +----------+          +---------------+          +----------+      +--------+
# |  eth0  |-----| lan0     |          | lo 203.0.113.1|          |     lan0 |------| eth0   |
# |10.1.0.2|     | 10.1.0.1 |          |  (intermediary|          | 10.2.0.1 |      |10.2.0.2|
# +--------+     |     wan0 |----------| toA      toB  |----------| wan0     |      +--------+
#  default via   |192.0.2.2 |          |192.0.2.1      |          |198.51.   |       default via
#  10.1.0.1      |   [dl0]  |          |   198.51.100.1|          | 100.2    |       10.2.0.1
#                +----------+          |  toX (extra   |          |   [dl0]  |
#                nft: masquerade       |  hosts, e.g.  |          +----------+
#                LAN->WAN; forward     |  "rogue",     |          nft: same as gwA
#                drop except est/rel,  |  100.64.N.2)  |
#                LAN->WAN, dl*<->LAN;  +---------------+
#                input drop except     no firewall, ip_forward on,
#                lo, est/rel, LAN      no routes to 10.0.0.0/8
#
# Gateways route everything (including 203.0.113.1) through their default
# route to the relay; nothing can open a connection into either office.
# Namespaces are "${LAB_PREFIX}<name>" (default prefix "dl<pid>-"), so runs
# never collide. Processes started with lab_start are recorded by pid in
# $LAB_RUN/pids and ended by lab_down; only those pids are ever signalled.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$LAB_ROOT/build}
INTERMEDIARY_BIN=${INTERMEDIARY_BIN:-$BUILD_DIR/intermediary/intermediary}
TUND_BIN=${TUND_BIN:-$BUILD_DIR/tund/tund}
DIALOUTCTL_BIN=${DIALOUTCTL_BIN:-$BUILD_DIR/dialoutctl/dialoutctl}
LAB_PREFIX=${LAB_PREFIX:-dl$$-}
LAB_RUN=${LAB_RUN:-}
LOG_LEVEL=${LOG_LEVEL:-info}
PY=${PY:-$(command -v /usr/bin/python3 || command -v python3)}
RELAY_PUBLIC=203.0.113.1
LAB_NAMES=(hostA gwA relay gwB hostB)
LAB_EXTRA=()          # hosts added with lab_add_relay_host
TESTS_PASSED=0
TESTS_FAILED=0

# --- small helpers -----------------------------------------------------------

ns() { echo "${LAB_PREFIX}$1"; }
lab_exec() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
log() { echo "[$(date +%H:%M:%S)] $*"; }

pass() { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "PASS: $*"; }
fail() { TESTS_FAILED=$((TESTS_FAILED + 1)); echo "FAIL: $*"; }
# check DESCRIPTION cmd... : PASS/FAIL on the command's status.
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; return 1; fi; }
summary() {
  echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
  ((TESTS_FAILED == 0))
}

# wait_until TIMEOUT_S cmd... : poll every 0.1 s until cmd succeeds; 1 on timeout.
wait_until() {
  local timeout=$1; shift
  local deadline=$(( $(now_ms) + $(awk -v t="$timeout" 'BEGIN{printf "%d", t*1000}') ))
  while true; do
    "$@" >/dev/null 2>&1 && return 0
    (( $(now_ms) >= deadline )) && return 1
    sleep 0.1
  done
}

# status_value FILE KEY : prints the value of KEY in a "key value" status file.
status_value() {
  [[ -r "$1" ]] || return 1
  awk -v k="$2" '$1 == k { print $2; found = 1; exit } END { exit !found }' "$1"
}
# status_is FILE KEY VALUE
status_is() { [[ "$(status_value "$1" "$2" 2>/dev/null)" == "$3" ]]; }
# status_ge FILE KEY MIN
status_ge() { local v; v=$(status_value "$1" "$2" 2>/dev/null) && (( v >= $3 )); }

lab_require_root() {
  if [[ $(id -u) -ne 0 ]] || ! ip netns add "${LAB_PREFIX}probe" 2>/dev/null; then
    echo "SKIP: needs root/CAP_NET_ADMIN (network namespaces)"
    exit 77
  fi
  ip netns del "${LAB_PREFIX}probe"
}

lab_require_daemons() {
  local b
  for b in "$INTERMEDIARY_BIN" "$TUND_BIN"; do
    if [[ ! -x "$b" ]] || ! "$b" --help >/dev/null 2>&1; then
      echo "lab: $b is missing or does not answer --help (build first: scripts/build.sh)" >&2
      return 1
    fi
  done
}

# --- processes ---------------------------------------------------------------

# lab_start NAME NS cmd... : run cmd in namespace NS in the background, log to
# $LAB_RUN/logs/NAME.log (appended), pid in $LAB_RUN/pids/NAME. Must not be
# called from a subshell: the pid has to be our child so lab_wait_exit can
# collect its exit status.
# NS "-" = the host's namespace. If lab_notify_listen NAME ran before, the
# process gets NOTIFY_SOCKET pointing at that listener.
lab_start() {
  local name=$1 n=$2 sock=$LAB_RUN/notify-$1.sock; shift 2
  local env=(env -u NOTIFY_SOCKET)
  [[ -S "$sock" ]] && env=(env "NOTIFY_SOCKET=$sock")
  [[ "$n" != - ]] && env=(ip netns exec "$(ns "$n")" "${env[@]}")
  echo "=== $(date '+%F %T') start: $*" >> "$LAB_RUN/logs/$name.log"
  # setsid: the process outlives a terminal hangup (demo) without changing pid.
  setsid "${env[@]}" "$@" >> "$LAB_RUN/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$LAB_RUN/pids/$name"
}

# lab_notify_listen NAME : a stand-in for systemd's notify socket; messages the
# process later started as NAME sends land in $LAB_RUN/NAME.notify.
lab_notify_listen() {
  local sock=$LAB_RUN/notify-$1.sock
  rm -f "$sock" "$LAB_RUN/$1.notify"; : > "$LAB_RUN/$1.notify"
  lab_start "notify-$1" - "$PY" "$LAB_ROOT/integration/labnet.py" notify-sink "$sock" 600 "$LAB_RUN/$1.notify"
  wait_until 5 test -S "$sock"
}

lab_pid() { cat "$LAB_RUN/pids/$1" 2>/dev/null; }
lab_alive() { local p; p=$(lab_pid "$1") && kill -0 "$p" 2>/dev/null; }

# lab_wait_exit NAME TIMEOUT_S : waits for the process to end; sets LAB_EXIT_STATUS.
lab_wait_exit() {
  local pid; pid=$(lab_pid "$1") || return 1
  wait_until "$2" eval "! kill -0 $pid" || return 1
  { wait "$pid"; } 2>/dev/null; LAB_EXIT_STATUS=$?
  rm -f "$LAB_RUN/pids/$1"
}

# lab_stop NAME [SIGNAL] [TIMEOUT_S] : signal, wait, SIGKILL if it lingers.
lab_stop() {
  local name=$1 sig=${2:-TERM} timeout=${3:-5} pid
  pid=$(lab_pid "$name") || return 0
  # stderr off for the whole block: bash announces a SIGKILLed child ("Killed")
  # on the shell's stderr whenever it reaps it, not only in wait.
  {
    kill -s "$sig" "$pid"
    if ! wait_until "$timeout" eval "! kill -0 $pid"; then
      echo "lab: $name (pid $pid) ignored SIG$sig for ${timeout}s; killing"
      kill -KILL "$pid"
      wait_until 2 eval "! kill -0 $pid"
    fi
    wait "$pid"; LAB_EXIT_STATUS=$?
  } 2>/dev/null
  rm -f "$LAB_RUN/pids/$name"
}

lab_dump_logs() {
  local f
  for f in "$LAB_RUN"/logs/*.log; do
    [[ -s "$f" ]] || continue
    echo "----- last lines of $f"
    tail -n "${1:-25}" "$f"
  done
}

# --- topology ----------------------------------------------------------------

lab_sysctl() { lab_exec "$1" sysctl -qw "$2" >/dev/null; }

lab_add_ns() {
  ip netns add "$(ns "$1")"
  lab_exec "$1" ip link set lo up
  # Loose reverse-path checks off everywhere: the tests must show that the
  # intermediary, not a kernel rp_filter, drops spoofed sources.
  lab_sysctl "$1" net.ipv4.conf.all.rp_filter=0
  lab_sysctl "$1" net.ipv4.conf.default.rp_filter=0
  if [[ "${LAB_IPV6:-0}" == 1 ]]; then
    # Opt-in (integration/ipv6.sh): IPv6 on, without duplicate address
    # detection so addresses are usable at once instead of ~1-2 s later.
    lab_sysctl "$1" net.ipv6.conf.all.accept_dad=0
    lab_sysctl "$1" net.ipv6.conf.default.accept_dad=0
  else
    lab_sysctl "$1" net.ipv6.conf.all.disable_ipv6=1
    lab_sysctl "$1" net.ipv6.conf.default.disable_ipv6=1
  fi
}

# lab_link NS1 IF1 ADDR1 NS2 IF2 ADDR2
lab_link() {
  ip link add "$2" netns "$(ns "$1")" type veth peer name "$5" netns "$(ns "$4")"
  lab_exec "$1" ip addr add "$3" dev "$2"
  lab_exec "$4" ip addr add "$6" dev "$5"
  lab_exec "$1" ip link set "$2" up
  lab_exec "$4" ip link set "$5" up
}

# lab_gateway_firewall NS : the office's outbound-only firewall and NAT; every
# LAN interface (lan*) is inside, wan0 outside.
lab_gateway_firewall() {
  lab_exec "$1" nft -f - <<'NFT'
table inet dlfw {
  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ct state established,related accept
    iifname "lan*" accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan*" oifname "wan0" accept
    iifname "dl*" oifname "lan*" accept
    iifname "lan*" oifname "dl*" accept
  }
}
table ip dlnat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "wan0" masquerade
  }
}
NFT
}

# lab_gateway_firewall_v6 NS : the IPv6 half of lab_gateway_firewall. Its
# "inet" table already filters IPv6 statefully (only outbound new
# connections, nothing forwarded in); IPv6 additionally needs neighbour
# discovery on the WAN, which conntrack does not see as a reply. No IPv6
# NAT: the lab's "internet" uses routed 2001:db8:: documentation addresses.
lab_gateway_firewall_v6() {
  lab_exec "$1" nft add rule inet dlfw input \
    icmpv6 type '{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert }' accept
}

# lab_begin : creates $LAB_RUN (unless set) and the namespaces in
# LAB_NAMES and, unless LAB_KEEP=1, tears everything down when the shell
# exits. Suites with their own topology start with it; lab_up does.
lab_begin() {
  if [[ -z "$LAB_RUN" ]]; then LAB_RUN=$(mktemp -d /tmp/dialout-lab.XXXXXX); fi
  mkdir -p "$LAB_RUN"/{logs,pids,status,pki}
  echo "$LAB_PREFIX" > "$LAB_RUN/prefix"
  if [[ "${LAB_KEEP:-0}" != 1 ]]; then
    trap lab_down EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
  fi
  local n
  for n in "${LAB_NAMES[@]}"; do lab_add_ns "$n"; done
}

# lab_up : builds the five namespaces of the two-office lab (lab_begin, then
# links, addresses, routes and firewalls).
lab_up() {
  lab_begin
  lab_link hostA eth0 10.1.0.2/24    gwA lan0 10.1.0.1/24
  lab_link gwA   wan0 192.0.2.2/24   relay toA 192.0.2.1/24
  lab_link relay toB 198.51.100.1/24 gwB wan0 198.51.100.2/24
  lab_link gwB   lan0 10.2.0.1/24    hostB eth0 10.2.0.2/24
  lab_exec relay ip addr add "$RELAY_PUBLIC/32" dev lo
  lab_exec hostA ip route add default via 10.1.0.1
  lab_exec gwA   ip route add default via 192.0.2.1
  lab_exec gwB   ip route add default via 198.51.100.1
  lab_exec hostB ip route add default via 10.2.0.1
  for n in gwA relay gwB; do lab_sysctl "$n" net.ipv4.ip_forward=1; done
  lab_gateway_firewall gwA
  lab_gateway_firewall gwB
}

# lab_add_ipv6 : after lab_up with LAB_IPV6=1, numbers the five namespaces
# for IPv6 as well (v4 stays as it is):
#   hostA fd00:1::2/64 - gwA lan0 fd00:1::1/64, wan0 2001:db8:a::2/64 -
#   relay toA 2001:db8:a::1/64, lo $RELAY_PUBLIC6, toB 2001:db8:b::1/64 -
#   gwB wan0 2001:db8:b::2/64, lan0 fd00:2::1/64 - hostB fd00:2::2/64
# with the v6 firewall rules on both gateways and forwarding on.
RELAY_PUBLIC6=2001:db8:ff::1
lab_add_ipv6() {
  local n
  _lab_addr6() { lab_exec "$1" ip -6 addr add "$3" dev "$2" nodad; }
  _lab_addr6 hostA eth0 fd00:1::2/64;     _lab_addr6 gwA lan0 fd00:1::1/64
  _lab_addr6 gwA wan0 2001:db8:a::2/64;   _lab_addr6 relay toA 2001:db8:a::1/64
  _lab_addr6 relay toB 2001:db8:b::1/64;  _lab_addr6 gwB wan0 2001:db8:b::2/64
  _lab_addr6 gwB lan0 fd00:2::1/64;       _lab_addr6 hostB eth0 fd00:2::2/64
  lab_exec relay ip -6 addr add "$RELAY_PUBLIC6/128" dev lo
  lab_exec hostA ip -6 route add default via fd00:1::1
  lab_exec gwA   ip -6 route add default via 2001:db8:a::1
  lab_exec gwB   ip -6 route add default via 2001:db8:b::1
  lab_exec hostB ip -6 route add default via fd00:2::1
  for n in gwA relay gwB; do lab_sysctl "$n" net.ipv6.conf.all.forwarding=1; done
  lab_gateway_firewall_v6 gwA
  lab_gateway_firewall_v6 gwB
}

# lab_add_relay_host NAME INDEX : another host hanging off the relay,
# NAME 100.64.INDEX.2/24 via relay 100.64.INDEX.1 (interface toINDEX).
lab_add_relay_host() {
  lab_add_ns "$1"
  LAB_EXTRA+=("$1")
  lab_link relay "to$2" "100.64.$2.1/24" "$1" eth0 "100.64.$2.2/24"
  lab_exec "$1" ip route add default via "100.64.$2.1"
}

# lab_down : ends recorded processes (by pid), then deletes this prefix's namespaces.
lab_down() { _lab_down 2>/dev/null; }  # no "Killed" job notices from bash
_lab_down() {
  local f n pid
  if [[ -n "$LAB_RUN" && -d "$LAB_RUN/pids" ]]; then
    for f in "$LAB_RUN"/pids/*; do
      [[ -e "$f" ]] && lab_stop "$(basename "$f")" TERM 5
    done
  fi
  for n in $(ip netns list | awk -v p="$LAB_PREFIX" 'index($1, p) == 1 { print $1 }'); do
    # Anything still inside a namespace we created was started by this lab.
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  return 0
}

# --- firewall baseline (no daemons needed) ----------------------------------

lab_ping() { lab_exec "$1" ping -c "${3:-1}" -i 0.2 -W 1 -q "$2" >/dev/null 2>&1; }
lab_tcp_open() { lab_exec "$1" nc -z -w "${4:-2}" "$2" "$3" >/dev/null 2>&1; }
# lab_listening NS PORT : something listens on TCP PORT in NS (no connection made,
# so the daemon's handshake counters stay clean).
lab_listening() { [[ -n "$(lab_exec "$1" ss -Hltn "sport = :$2")" ]]; }

# lab_listen NAME NS ADDR PORT SECONDS : background accept-log listener;
# returns once it is bound. Peers land in $LAB_RUN/NAME.peers.
lab_listen() {
  rm -f "$LAB_RUN/$1.peers" "$LAB_RUN/$1.peers.ready"
  lab_start "$1" "$2" "$PY" "$LAB_ROOT/integration/labnet.py" accept-log "$3" "$4" "$5" "$LAB_RUN/$1.peers"
  wait_until 5 test -e "$LAB_RUN/$1.peers.ready"
}

# lab_check_firewalls : proves the lab is what it claims before any tunnel.
lab_check_firewalls() {
  check "baseline: hostA reaches its gateway and the relay's public address (outbound NAT works)" \
    eval 'lab_ping hostA 10.1.0.1 && lab_ping hostA '"$RELAY_PUBLIC"' && lab_ping hostB '"$RELAY_PUBLIC"
  check "baseline: hostA cannot reach hostB and hostB cannot reach hostA without the tunnel" \
    eval '! lab_ping hostA 10.2.0.2 && ! lab_ping hostB 10.1.0.2'

  lab_listen probe-relay relay "$RELAY_PUBLIC" 8080 10
  lab_tcp_open hostA "$RELAY_PUBLIC" 8080
  wait_until 2 test -s "$LAB_RUN/probe-relay.peers"
  check "baseline: hostA's outbound TCP reaches the relay masqueraded as 192.0.2.2" \
    grep -qx 192.0.2.2 "$LAB_RUN/probe-relay.peers"
  lab_stop probe-relay

  lab_listen probe-gwA gwA 0.0.0.0 2222 15
  lab_listen probe-hostA hostA 0.0.0.0 2223 15
  check "baseline: a listener on gwA is reachable from its LAN" lab_tcp_open hostA 10.1.0.1 2222
  check "baseline: gwA drops inbound TCP from the WAN (relay -> 192.0.2.2:2222 times out)" \
    eval '! lab_tcp_open relay 192.0.2.2 2222'
  lab_exec relay ip route add 10.1.0.0/24 via 192.0.2.2
  check "baseline: gwA drops forwarded inbound TCP (relay -> hostA:2223 via gwA times out)" \
    eval '! lab_tcp_open relay 10.1.0.2 2223'
  check "baseline: gwA drops inbound ICMP from the WAN" eval '! lab_ping relay 10.1.0.2 && ! lab_ping relay 192.0.2.2'
  lab_exec relay ip route del 10.1.0.0/24 via 192.0.2.2
  lab_stop probe-gwA
  lab_stop probe-hostA
}

# --- the daemons -------------------------------------------------------------

# lab_pki [extra make-pki args...] : CA, intermediary (DNS:intermediary and the
# public IP), gw-a, gw-b, rogue-site; expired-site (expired) and foreign-site
# (signed by an unrelated CA) for negative tests.
lab_pki() {
  "$LAB_ROOT/scripts/make-pki.sh" "$LAB_RUN/pki" --server-san "DNS:intermediary,IP:$RELAY_PUBLIC" \
    --expired expired-site --other-ca foreign-site gw-a gw-b rogue-site "$@" >/dev/null
}

lab_write_policy() {
  cat > "$LAB_RUN/policy.conf" <<'EOF'
# Who may register which virtual-address name, advertise which prefixes, reach whom.
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b

[identity gw-b]
register = office-b
advertise = 10.2.0.0/24
reach = office-a

# A valid certificate from our CA that must not take over anyone's name.
[identity rogue-site]
register = rogue
advertise = 10.3.0.0/24
reach = office-a
EOF
}

# lab_start_intermediary [extra flags...] : on the relay, listening on the public address.
lab_start_intermediary() {
  local p=$LAB_RUN/pki
  cat > "$LAB_RUN/intermediary.conf" <<EOF
cert = $p/intermediary.crt
key = $p/intermediary.key
ca = $p/ca.crt
policy = $LAB_RUN/policy.conf
status-file = $LAB_RUN/status/intermediary.status
control-socket = $LAB_RUN/intermediary.sock
log-level = $LOG_LEVEL
EOF
  # LAB_LISTEN=default: no --listen, the intermediary's own default.
  local listen=(--listen "$RELAY_PUBLIC:443")
  [[ "${LAB_LISTEN:-}" == default ]] && listen=()
  lab_start intermediary relay "$INTERMEDIARY_BIN" --config "$LAB_RUN/intermediary.conf" "${listen[@]}" "$@"
}

# lab_start_tund NAME NS IDENTITY SITE [extra flags...] : config file for the
# connection and certificates; the site-specific parts as flags.
# LAB_INTERMEDIARY overrides what it dials (default $RELAY_PUBLIC:443).
lab_start_tund() {
  local name=$1 n=$2 id=$3 site=$4 p=$LAB_RUN/pki; shift 4
  cat > "$LAB_RUN/$name.conf" <<EOF
intermediary = ${LAB_INTERMEDIARY:-$RELAY_PUBLIC:443}
server-name = intermediary
cert = $p/$id.crt
key = $p/$id.key
ca = $p/ca.crt
tun = dl0
offload = ${OFFLOAD:-on}
${QUEUES:+queues = $QUEUES}
reconnect-max-ms = 2000
status-file = $LAB_RUN/status/$name.status
control-socket = $LAB_RUN/$name.sock
log-level = $LOG_LEVEL
EOF
  lab_start "$name" "$n" "$TUND_BIN" --config "$LAB_RUN/$name.conf" --name "$site" "$@"
}

lab_status_file() { echo "$LAB_RUN/status/$1.status"; }

# lab_start_offices : intermediary + both office gateways; waits for the tunnel.
lab_start_offices() {
  lab_write_policy
  lab_start_intermediary
  wait_until 10 lab_listening relay 443 || return 1
  lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24
  lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24
  wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 &&
    wait_until 20 status_is "$(lab_status_file tund-b)" registered 1
}

# --- extra sites: laptops behind their own NAT, LAN hosts behind a switch -----
#
#                      relay
#   toINDEX 100.64.INDEX.1 |
#                          | wan0 100.64.INDEX.2
#                     +---------+  lab_add_nat_firewall FW INDEX: a home or cafe
#                     |   FW    |  router with the same outbound-only NAT firewall
#                     +---------+  as the office gateways (lan0 <-> wan0 only)
#        lan0 192.168.INDEX.1  |
#                          | IF 192.168.INDEX.2   lab_add_laptop LAPTOP FW INDEX IF METRIC
#                     +---------+
#                     | LAPTOP  |  one namespace, one uplink per firewall; the
#                     +---------+  default route with the lowest METRIC wins
#
# lab_add_lan_host SIDE NAME ADDR/LEN : office SIDE's (A|B) LAN becomes a switch
# (namespace swSIDE, bridge br0) on first use, hostSIDE keeps eth0 and its
# address; NAME joins it with eth0 = ADDR/LEN, default via the gateway.

# lab_add_nat_firewall FW INDEX
lab_add_nat_firewall() {
  lab_add_ns "$1"
  LAB_EXTRA+=("$1")
  lab_link relay "to$2" "100.64.$2.1/24" "$1" wan0 "100.64.$2.2/24"
  lab_exec "$1" ip route add default via "100.64.$2.1"
  lab_sysctl "$1" net.ipv4.ip_forward=1
  lab_gateway_firewall "$1"
}

# lab_add_laptop LAPTOP FW INDEX IF METRIC
lab_add_laptop() {
  if ! ip netns list | awk '{ print $1 }' | grep -qx "$(ns "$1")"; then
    lab_add_ns "$1"
    LAB_EXTRA+=("$1")
  fi
  lab_link "$2" lan0 "192.168.$3.1/24" "$1" "$4" "192.168.$3.2/24"
  lab_exec "$1" ip route add default via "192.168.$3.1" dev "$4" metric "$5"
}

# lab_add_lan_host SIDE NAME ADDR/LEN
lab_add_lan_host() {
  local side=$1 name=$2 addr=$3 host=host$1 gw=gw$1 sw=sw$1 net
  net=$([[ $side == A ]] && echo 10.1.0 || echo 10.2.0)
  if ! ip netns list | awk '{ print $1 }' | grep -qx "$(ns "$sw")"; then
    lab_add_ns "$sw"
    LAB_EXTRA+=("$sw")
    # A switch forwards frames, nothing else: if br_netfilter is loaded on
    # the machine (conntrack tooling may load it), bridged frames would
    # otherwise also traverse this namespace's netfilter hooks.
    if lab_exec "$sw" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
      lab_exec "$sw" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
        net.bridge.bridge-nf-call-arptables=0
    fi
    lab_exec "$sw" ip link add br0 type bridge
    lab_exec "$sw" ip link set br0 up
    # hostX's old eth0 (peer of the gateway's lan0) becomes the switch's uplink port.
    lab_exec "$host" ip link set eth0 netns "$(ns "$sw")"
    lab_exec "$sw" ip link set eth0 name p-gw
    lab_exec "$sw" ip link set p-gw master br0 up
    ip link add eth0 netns "$(ns "$host")" type veth peer name "p-$host" netns "$(ns "$sw")"
    lab_exec "$host" ip addr add "$net.2/24" dev eth0
    lab_exec "$host" ip link set eth0 up
    lab_exec "$host" ip route add default via "$net.1"
    lab_exec "$sw" ip link set "p-$host" master br0 up
    lab_exec "$gw" ip neigh flush dev lan0
  fi
  lab_add_ns "$name"
  LAB_EXTRA+=("$name")
  ip link add eth0 netns "$(ns "$name")" type veth peer name "p-$name" netns "$(ns "$sw")"
  lab_exec "$name" ip addr add "$addr" dev eth0
  lab_exec "$name" ip link set eth0 up
  lab_exec "$name" ip route add default via "$net.1"
  lab_exec "$sw" ip link set "p-$name" master br0 up
}

# tund_has_flag FLAG : the tund under test knows --FLAG (features land one by one).
# The help is read whole first: piped into grep -q, the daemon's second
# write could hit a closed pipe (SIGPIPE), which pipefail turns into
# "flag missing" about one time in four.
tund_has_flag() { local h; h=$("$TUND_BIN" --help 2>/dev/null) && grep -q -- "--$1\b" <<< "$h"; }
intermediary_has_flag() { local h; h=$("$INTERMEDIARY_BIN" --help 2>/dev/null) && grep -q -- "--$1\b" <<< "$h"; }

# --- shared scenario plumbing -------------------------------------------------

# lab_ping_received NS DST COUNT [ping flags...] : prints how many of COUNT
# echo requests were answered.
lab_ping_received() {
  lab_exec "$1" ping -c "$3" -i 0.2 -W 1 -q "${@:4}" "$2" 2>/dev/null |
    awk '/received/ { print $4; found = 1 } END { if (!found) print 0 }'
}

# lab_finish : the summary, logs on failure, teardown; exits with the verdict.
lab_finish() {
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

# lab_tcp_transfer FROM DST_ADDR PORT BYTES : a checksummed TCP transfer into a
# sink on the namespace owning DST_ADDR's side (SINK_NS, default hostB); one
# check line with sizes, sha256 and duration.
lab_tcp_transfer() {
  local from=$1 dst=$2 port=$3 bytes=$4 sink_ns=${SINK_NS:-hostB} res=$LAB_RUN/tcp-$3.result t0 ms sent
  local rbytes rsha sbytes ssha
  rm -f "$res" "$res.ready"
  lab_start "tcp-sink-$port" "$sink_ns" "$PY" "$LAB_ROOT/integration/labnet.py" tcp-sink "$dst" "$port" 150 "$res"
  wait_until 5 test -e "$res.ready"
  t0=$(now_ms)
  sent=$(lab_exec "$from" timeout 160 "$PY" "$LAB_ROOT/integration/labnet.py" tcp-send "$dst" "$port" "$bytes" 150 \
    2>>"$LAB_RUN/logs/tcp-send.err")
  ms=$(( $(now_ms) - t0 ))
  wait_until 10 test -s "$res"
  read -r rbytes rsha _ < "$res" 2>/dev/null || { rbytes=0; rsha=none; }
  read -r sbytes ssha <<< "${sent:-0 none}"
  check "TCP $from -> $dst:$port: sent $sbytes bytes, received $rbytes, sha256 $( [[ "$ssha" == "$rsha" ]] && echo matches || echo differs ) (${ms} ms)" \
    test "$sbytes" -eq "$bytes" -a "$rbytes" -eq "$bytes" -a "$ssha" == "$rsha"
  lab_stop "tcp-sink-$port"
}

# lab_udp_check FROM TO DST_ADDR PORT: UDP_COUNT datagrams from FROM to a sink
# in TO, payloads checked; passes with >= 99 % received and none corrupted.
lab_udp_check() {
  local from=$1 to=$2 dst=$3 port=$4 res=$LAB_RUN/udp-$1.result line valid invalid
  rm -f "$res" "$res.ready"
  lab_start "udp-sink-$to" "$to" "$PY" "$LAB_ROOT/integration/labnet.py" udp-sink "$dst" "$port" 20 "$res" "$UDP_COUNT"
  wait_until 5 test -e "$res.ready"
  lab_exec "$from" timeout 30 "$PY" "$LAB_ROOT/integration/labnet.py" udp-send "$dst" "$port" "$UDP_COUNT" 1
  wait_until 25 test -s "$res"
  line=$(cat "$res" 2>/dev/null)
  valid=$(awk '{ print $2 }' <<< "$line"); invalid=$(awk '{ print $4 }' <<< "$line")
  # A lossless lab: allow 1 % for scheduling hiccups, never a corrupted payload.
  check "UDP $from -> $to: ${line:-no result} (need >= 99 % of $UDP_COUNT, 0 invalid)" \
    test "${valid:-0}" -ge $((UDP_COUNT * 99 / 100)) -a "${invalid:-1}" -eq 0
  lab_stop "udp-sink-$to"
}
