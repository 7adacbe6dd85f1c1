#!/usr/bin/env bash
# Issue 11, site side: office A sits behind a web-only firewall and reaches the
# intermediary only through a proxy. Debian's squid (HTTP CONNECT, Basic auth
# via basic_ncsa_auth, CONNECT to port 443 only) and dante-server (SOCKS5,
# username/password against a throwaway system user) run on a "proxy" host off
# the relay (100.64.1.2); gwA's firewall drops everything leaving its WAN
# except to the proxy's ports. Office B dials directly.
#
# Proves, for each proxy: the firewall really blocks the direct path; office A
# registers through the proxy; ping both ways, a TCP transfer with matching
# sha256 and UDP with payload checks; a roam of gwA redials through the proxy; wrong credentials give the refusal line naming the proxy and its
# answer, and no tunnel.
#
# Env: BUILD_DIR, LOG_LEVEL, TCP_BYTES (default 100 MB), KEEP_RUN=1.
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
TCP_BYTES=${TCP_BYTES:-$((100 * 1024 * 1024))}
UDP_COUNT=${UDP_COUNT:-2000}
PROXY=100.64.1.2
SQUID=${SQUID:-/usr/sbin/squid}
NCSA=${NCSA:-/usr/lib/squid/basic_ncsa_auth}
DANTED=${DANTED:-/usr/sbin/danted}
SOCKS_USER="dlsocks$$"   # throwaway system user for danted; removed on exit
USER_MADE=0

for b in "$SQUID" "$NCSA" "$DANTED"; do
  if [[ ! -x "$b" ]]; then echo "SKIP: $b missing (scripts/install-deps.sh installs squid and dante-server)"; exit 77; fi
done
tund_has_flag proxy || { echo "SKIP: this tund has no --proxy"; exit 77; }

remove_user() { if ((USER_MADE)); then userdel "$SOCKS_USER" 2>/dev/null; USER_MADE=0; fi; }

log "proxy: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
trap 'lab_down; remove_user' EXIT
lab_add_relay_host proxy 1
# Sockets of squid's and danted's unprivileged users live in the run directory.
chmod 711 "$LAB_RUN"
log "run directory $LAB_RUN"

# gwA: nothing from the gateway or its LAN leaves by the WAN except to the proxy.
lab_exec gwA nft -f - <<NFT
table inet dlwebonly {
  chain output {
    type filter hook output priority filter; policy accept;
    oifname "wan0" ip daddr $PROXY tcp dport { 3128, 1080 } accept
    oifname "wan0" drop
  }
  chain forward {
    type filter hook forward priority filter - 1; policy accept;
    oifname "wan0" drop
  }
}
NFT

lab_require_daemons || { fail "daemon binaries present"; lab_finish; }
lab_pki
lab_write_policy
lab_start_intermediary
wait_until 10 lab_listening relay 443 || { fail "intermediary listening"; lab_finish; }
check "baseline: gwA cannot open TCP to the intermediary directly" eval "! lab_tcp_open gwA $RELAY_PUBLIC 443"
check "baseline: hostA cannot open TCP to the intermediary directly" eval "! lab_tcp_open hostA $RELAY_PUBLIC 443"
lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24

# --- squid --------------------------------------------------------------------
sq=$LAB_RUN/squid
mkdir -p "$sq"
printf 'office:%s\n' "$(openssl passwd -apr1 'right horse')" > "$sq/htpasswd"
cat > "$sq/squid.conf" <<EOF
http_port $PROXY:3128
auth_param basic program $NCSA $sq/htpasswd
auth_param basic realm dialout-test
acl authed proxy_auth REQUIRED
acl relay_port port 443
acl CONNECT method CONNECT
http_access deny !CONNECT
http_access deny CONNECT !relay_port
http_access allow authed
http_access deny all
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
lab_start squid proxy "$SQUID" -N -f "$sq/squid.conf"
wait_until 15 lab_listening proxy 3128 || { fail "squid listening on $PROXY:3128 ($(tail -n 3 "$sq/cache.log" 2>/dev/null))"; lab_finish; }


# roam_through_proxy NAME : gwA's source address towards the proxy changes;
# tund redials every connection, through the proxy again.
roam_through_proxy() {
  local st; st=$(lab_status_file "$1")
  local roams_before; roams_before=$(status_value "$st" roams || echo 0)
  lab_exec gwA ip addr add 192.0.2.3/24 dev wan0
  lab_exec gwA ip route replace default via 192.0.2.1 src 192.0.2.3
  if wait_until 10 status_ge "$st" roams $((roams_before + 1)); then
    pass "roam: gwA's source towards the proxy changed, tund redialled (roams $roams_before -> $(status_value "$st" roams))"
  else
    fail "roam: tund noticed gwA's new source address (roams still $(status_value "$st" roams))"
  fi
  wait_until 15 status_is "$st" registered 1
  wait_until 10 lab_ping hostA 10.2.0.2
  local n; n=$(lab_ping_received hostA 10.2.0.2 5)
  check "roam: ping hostA -> hostB through the proxy after the roam: $n/5 answered" test "$n" -eq 5
  lab_exec gwA ip route replace default via 192.0.2.1
  lab_exec gwA ip addr del 192.0.2.3/24 dev wan0
}

creds() { # creds FILE TEXT : a 0600 credentials file
  (umask 077; printf '%s\n' "$2" > "$1")
}

# proxy_round LABEL URL GOOD_CREDS BAD_CREDS REFUSAL_REGEX
proxy_round() {
  local label=$1 url=$2 good=$3 bad=$4 refusal=$5 t0 n line
  creds "$LAB_RUN/$label.good" "$good"
  creds "$LAB_RUN/$label.bad" "$bad"

  lab_start_tund "tund-a-$label-bad" gwA gw-a office-a --advertise 10.1.0.0/24 \
    --proxy "$url" --proxy-credentials "$LAB_RUN/$label.bad"
  if wait_until 15 grep -Eq "$refusal" "$LAB_RUN/logs/tund-a-$label-bad.log"; then
    line=$(grep -E "$refusal" "$LAB_RUN/logs/tund-a-$label-bad.log" | head -n 1)
    pass "$label, wrong credentials: refusal logged: ${line#*] }"
  else
    fail "$label, wrong credentials: a line matching /$refusal/ in tund's log"
  fi
  check "$label, wrong credentials: never registered" \
    eval "! status_is '$(lab_status_file "tund-a-$label-bad")' registered 1"
  check "$label, wrong credentials: no tunnel (hostA cannot ping hostB)" eval '! lab_ping hostA 10.2.0.2 2'
  check "$label, wrong credentials: tund keeps retrying (alive)" lab_alive "tund-a-$label-bad"
  check "$label, wrong credentials: no secret in the log" \
    eval "! grep -Fq -e '${bad#*:}' -e '${good#*:}' '$LAB_RUN/logs/tund-a-$label-bad.log'"
  lab_stop "tund-a-$label-bad"

  t0=$(now_ms)
  lab_start_tund "tund-a-$label" gwA gw-a office-a --advertise 10.1.0.0/24 \
    --proxy "$url" --proxy-credentials "$LAB_RUN/$label.good"
  if wait_until 20 status_is "$(lab_status_file "tund-a-$label")" registered 1 &&
     wait_until 20 status_is "$(lab_status_file tund-b)" registered 1; then
    pass "$label: office A registered through the proxy in $(( $(now_ms) - t0 )) ms"
  else
    fail "$label: office A registered through the proxy within 20 s"
    lab_stop "tund-a-$label"
    return 1
  fi
  wait_until 10 lab_ping hostA 10.2.0.2
  n=$(lab_ping_received hostA 10.2.0.2 5)
  check "$label: ping hostA -> hostB: $n/5 answered" test "$n" -eq 5
  n=$(lab_ping_received hostB 10.1.0.2 5)
  check "$label: ping hostB -> hostA: $n/5 answered" test "$n" -eq 5
  lab_tcp_transfer hostA 10.2.0.2 5001 "$TCP_BYTES"
  lab_udp_check hostA hostB 10.2.0.2 5002
  if [[ "$label" == squid ]]; then roam_through_proxy "tund-a-$label"; fi
  check "$label: no secret in the log" \
    eval "! grep -Fq '${good#*:}' '$LAB_RUN/logs/tund-a-$label.log'"
  lab_stop "tund-a-$label"
}

proxy_round squid "http://$PROXY:3128" "office:right horse" "office:wrong horse" \
  "HTTP proxy $PROXY:3128: refused our proxy-credentials: .HTTP/1.1 407"
check "squid saw authenticated CONNECTs to $RELAY_PUBLIC:443 ($(grep -c CONNECT "$sq/access.log" 2>/dev/null) logged)" \
  grep -q "CONNECT $RELAY_PUBLIC:443 office" "$sq/access.log"
lab_stop squid TERM 10

# --- dante (SOCKS5, username/password = a system account) -------------------
useradd -M -N -s /usr/sbin/nologin "$SOCKS_USER" && USER_MADE=1
echo "$SOCKS_USER:socks pass 5" | chpasswd
cat > "$LAB_RUN/danted.conf" <<EOF
logoutput: $LAB_RUN/logs/danted-own.log
internal: $PROXY port = 1080
external: eth0
clientmethod: none
socksmethod: username
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 0.0.0.0/0 to: 0.0.0.0/0
}
socks pass {
  from: 0.0.0.0/0 to: $RELAY_PUBLIC/32 port = 443
  command: connect
  socksmethod: username
}
socks block {
  from: 0.0.0.0/0 to: 0.0.0.0/0
}
EOF
lab_start danted proxy "$DANTED" -f "$LAB_RUN/danted.conf" -p "$LAB_RUN/danted.pid"
if wait_until 10 lab_listening proxy 1080; then
  proxy_round dante "socks5h://$PROXY:1080" "$SOCKS_USER:socks pass 5" "$SOCKS_USER:not it" \
    "SOCKS5 proxy $PROXY:1080: refused our proxy-credentials"
else
  fail "danted listening on $PROXY:1080"
fi
lab_stop danted
remove_user
lab_finish
