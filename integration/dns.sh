#!/usr/bin/env bash
# Split DNS for a roaming laptop (issue 15): the intermediary's policy hands
# the laptop a resolver behind the tunnel and the domain it answers for; the
# laptop (no systemd-resolved) applies it through the example hook
# docs/examples/dns-hook-dnsmasq, which routes that domain, and only that
# domain, to the tunnel's resolver in the laptop's local dnsmasq.
#
#  laptop (alice, OU eng) eth0 192.168.2.2 --- homefw (NAT) 100.64.2.2 --+
#    [dl0 10.99.0.x/32 from the pool]                                    +-- relay 203.0.113.1
#    dnsmasq 127.0.0.1 (servers-file the hook writes,                    |   [intermediary,
#      upstream: the internet resolver)                                  |    --address-pool 10.99.0.0/24]
#    /etc/netns/<ns>/resolv.conf: nameserver 127.0.0.1                   |
#  inet 100.64.5.2: the internet's resolver (dnsmasq: www.example.com) --+
#                                                                        |
#  hostB 10.2.0.2 + 10.2.0.53 --- gwB [tund "hq", NAT fw] ---------------+
#    dnsmasq 10.2.0.53: HQ's resolver (fileserver.office-b.lan -> 10.2.0.2,
#    intranet.corp.example -> 10.2.0.2), every query logged
#
# Proves: before the tunnel the laptop resolves internet names and not HQ's;
# once tund is up the hook has written the split block, and a lookup through
# the C library (getent, ping by name) of fileserver.office-b.lan is answered
# by HQ's resolver through the tunnel (its log shows the query from the
# laptop's pool address) and the ping reaches hostB; `dialoutctl status`
# and the status file name the method, resolver and domain; a lookup of
# www.example.com is answered by the internet resolver, HQ's resolver never
# sees it and the laptop's TUN device sends no packet meanwhile; HQ names no
# longer reach the internet resolver. A policy reload (SIGHUP) that adds
# corp.example reaches the live session (hook down + up, the new domain
# resolves). When tund stops, the hook's block is gone and HQ's names no
# longer resolve. With dns = resolvectl (a stand-in resolvectl first in PATH
# that records its arguments) tund runs dns, domain and default-route false
# for dl0, and revert when it stops.
#
# Env: BUILD_DIR (default build), LOG_LEVEL, KEEP_RUN=1 keeps the run directory.
# Checks are eval strings that expand when run (SC2016) reading variables only
# they use (SC2034); helpers called through wait_until look unreachable (SC2317).
# shellcheck disable=SC2016,SC2034,SC2317
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
POOL=10.99.0.0/24
HOOK=$LAB_ROOT/docs/examples/dns-hook-dnsmasq
# `ip netns exec NS` bind-mounts /etc/netns/NS/resolv.conf over /etc/resolv.conf.
NETNS_ETC=/etc/netns/$(ns laptop)

cleanup() {
  rm -rf "$NETNS_ETC"
  lab_down
}

finish() {
  rm -rf "$NETNS_ETC"
  lab_finish
}

# resolve NAME : the first IPv4 address the laptop's C library finds, or nothing.
resolve() { lab_exec laptop getent ahostsv4 "$1" 2>/dev/null | awk '{ print $1; exit }'; }
resolves_to() { [[ "$(resolve "$1")" == "$2" ]]; }
# lines PATTERN FILE : how many lines of FILE match (0 when it does not exist).
lines() { grep -c -- "$1" "$2" 2>/dev/null || true; }
tun_tx_packets() { lab_exec laptop cat /sys/class/net/dl0/statistics/tx_packets 2>/dev/null || echo missing; }

# start_dnsmasq NAME NS [flags...] : a foreground dnsmasq logging every query
# to $LAB_RUN/logs/NAME.queries; waits until it answers.
start_dnsmasq() {
  local name=$1 n=$2; shift 2
  lab_start "$name" "$n" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-hosts --no-resolv \
    --bind-interfaces --user=root --cache-size=0 --log-queries --log-facility="$LAB_RUN/logs/$name.queries" \
    --pid-file="$LAB_RUN/$name.pid" "$@"
}

log "dns: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
trap cleanup EXIT
log "run directory $LAB_RUN"
lab_add_nat_firewall homefw 2
lab_add_laptop laptop homefw 2 eth0 100
lab_add_relay_host inet 5
lab_exec hostB ip addr add 10.2.0.53/24 dev eth0

if ! command -v dnsmasq >/dev/null; then
  fail "dnsmasq installed (scripts/install-deps.sh)"
  finish
fi
mkdir -p "$NETNS_ETC"
echo "nameserver 127.0.0.1" > "$NETNS_ETC/resolv.conf"
start_dnsmasq dns-inet inet --listen-address=100.64.5.2 --address=/www.example.com/192.0.2.80
start_dnsmasq dns-hq hostB --listen-address=10.2.0.53 \
  --address=/fileserver.office-b.lan/10.2.0.2 --address=/intranet.corp.example/10.2.0.2
: > "$LAB_RUN/laptop-servers.conf"
start_dnsmasq dns-laptop laptop --listen-address=127.0.0.1 --server=100.64.5.2 \
  --servers-file="$LAB_RUN/laptop-servers.conf"

# --- 0. the lab itself -------------------------------------------------------
check "baseline: the laptop resolves www.example.com through its local dnsmasq and the internet resolver" \
  wait_until 5 resolves_to www.example.com 192.0.2.80
check "baseline: the laptop cannot resolve fileserver.office-b.lan without the tunnel" \
  eval '[[ -z "$(resolve fileserver.office-b.lan)" ]]'

lab_require_daemons || { fail "daemon binaries present"; finish; }
lab_pki alice:eng
cat > "$LAB_RUN/policy.conf" <<'EOF'
[identity gw-b]
register = hq
advertise = 10.2.0.0/24
reach = *

# Engineers' laptops: HQ, and HQ's resolver for HQ's domain (split DNS).
[group eng]
register   = laptop-{user}
reach      = hq
dns        = 10.2.0.53
dns-search = office-b.lan
EOF
lab_start_intermediary --address-pool "$POOL"
wait_until 10 lab_listening relay 443 || { fail "intermediary listens on $RELAY_PUBLIC:443"; finish; }
lab_start_tund tund-hq gwB gw-b hq --advertise 10.2.0.0/24
check "HQ's tund registered" wait_until 20 status_is "$(lab_status_file tund-hq)" registered 1

# --- 1. the laptop gets its resolver through the hook --------------------------
export DIALOUT_DNSMASQ_SERVERS_FILE=$LAB_RUN/laptop-servers.conf DIALOUT_DNSMASQ_PID_FILE=$LAB_RUN/dns-laptop.pid
lab_start_tund tund-alice laptop alice laptop-alice --request-address on --dns hook --dns-hook "$HOOK"
unset DIALOUT_DNSMASQ_SERVERS_FILE DIALOUT_DNSMASQ_PID_FILE
tlog=$LAB_RUN/logs/tund-alice.log
check "alice's tund registered" wait_until 20 status_is "$(lab_status_file tund-alice)" registered 1
check "the hook wrote the split block: $(grep -s 'server=' "$LAB_RUN/laptop-servers.conf" | tr '\n' ' ')" \
  wait_until 10 grep -qx 'server=/office-b.lan/10.2.0.53' "$LAB_RUN/laptop-servers.conf"
line=$(grep 'dns: resolvers' "$tlog" | tail -n 1)
check "tund logged what it applied: ${line:-<no \"dns: resolvers\" line>}" \
  grep -q 'dns: resolvers 10.2.0.53 for office-b.lan on dl0 via hook' "$tlog"
alice_ip=$(lab_exec laptop ip -4 -o addr show dev dl0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
# dns_status NAME : "method|servers|domains|error" from `dialoutctl status --json` of tund NAME.
dns_status() {
  "$DIALOUTCTL_BIN" --socket "$LAB_RUN/$1.sock" status --json 2>/dev/null |
    "$PY" -c 'import json,sys; d=json.load(sys.stdin)["dns"][0]; print("|".join(str(d[k]) for k in ("method","servers","domains","error")))' 2>/dev/null
}
# The hook writes the servers file before tund records the change: poll.
dns_status_is() { [[ "$(dns_status "$1")" == "$2" ]]; }
wait_until 5 dns_status_is tund-alice "hook|10.2.0.53|office-b.lan|None"
check "dialoutctl status names the hook, the resolver and the domain, no error: $(dns_status tund-alice)" \
  dns_status_is tund-alice "hook|10.2.0.53|office-b.lan|None"
sfile=$(lab_status_file tund-alice)
check "the status file says the same: $(grep -s '^dns_' "$sfile" | tr '\n' ';')" \
  wait_until 5 eval 'grep -qx "dns_servers 10.2.0.53" "$sfile" && grep -qx "dns_domains office-b.lan" "$sfile" &&
    grep -qx "dns_method hook" "$sfile" && grep -qx "dns_error -" "$sfile"'

# --- 2. HQ's names resolve through the tunnel --------------------------------
hq_queries=$LAB_RUN/logs/dns-hq.queries
got=
wait_until 15 resolves_to fileserver.office-b.lan 10.2.0.2 && got=10.2.0.2
check "the laptop resolves fileserver.office-b.lan to ${got:-nothing} (want 10.2.0.2)" test "$got" == 10.2.0.2
line=$(grep 'query\[A\] fileserver.office-b.lan' "$hq_queries" | tail -n 1)
check "HQ's resolver got the query through the tunnel from the laptop's pool address ${alice_ip:-?}: ${line:-<none>}" \
  eval '[[ -n "$alice_ip" && "$line" == *"from $alice_ip" ]]'
n=$(lab_ping_received laptop fileserver.office-b.lan 3)
check "the laptop pings fileserver.office-b.lan by name: $n/3 answered" test "$n" -eq 3

# --- 3. every other name stays out of the tunnel ----------------------------
inet_queries=$LAB_RUN/logs/dns-inet.queries
hq_www=$(lines www.example.com "$hq_queries")
inet_hq=$(lines office-b.lan "$inet_queries")
tx_before=$(tun_tx_packets)
got=$(resolve www.example.com)
got2=$(resolve www.example.com)
tx_after=$(tun_tx_packets)
check "the laptop resolves www.example.com to ${got:-nothing} (want 192.0.2.80) while the tunnel is up" \
  eval '[[ "$got" == 192.0.2.80 && "$got2" == 192.0.2.80 ]]'
check "HQ's resolver never saw www.example.com ($(lines www.example.com "$hq_queries") queries, $hq_www before)" \
  test "$(lines www.example.com "$hq_queries")" -eq 0
check "the laptop's TUN device sent no packet for those lookups (tx_packets $tx_before -> $tx_after)" \
  eval '[[ "$tx_before" != missing && "$tx_before" == "$tx_after" ]]'
resolve fileserver.office-b.lan >/dev/null
check "HQ's names no longer go to the internet resolver ($(lines office-b.lan "$inet_queries") queries, $inet_hq before the tunnel)" \
  test "$(lines office-b.lan "$inet_queries")" -eq "$inet_hq"

# --- 4. a policy reload reaches the live session -----------------------------
registrations=$(grep -c "registered 'laptop-alice'" "$tlog")
sed -i 's/^dns-search = office-b.lan$/dns-search = office-b.lan, corp.example/' "$LAB_RUN/policy.conf"
kill -HUP "$(lab_pid intermediary)"
check "after a policy reload the hook routes corp.example too (no reconnect needed)" \
  wait_until 10 grep -qx 'server=/corp.example/10.2.0.53' "$LAB_RUN/laptop-servers.conf"
got=
wait_until 10 resolves_to intranet.corp.example 10.2.0.2 && got=10.2.0.2
check "the laptop resolves intranet.corp.example to ${got:-nothing} (want 10.2.0.2)" test "$got" == 10.2.0.2
wait_until 5 dns_status_is tund-alice "hook|10.2.0.53|office-b.lan corp.example|None"
check "dialoutctl status shows the new domain list: $(dns_status tund-alice)" \
  dns_status_is tund-alice "hook|10.2.0.53|office-b.lan corp.example|None"
check "alice's connections stayed up through the reload (registrations in its log: $registrations before, $(grep -c "registered 'laptop-alice'" "$tlog") after)" \
  test "$(grep -c "registered 'laptop-alice'" "$tlog")" -eq "$registrations"

# --- 5. undone on exit ------------------------------------------------------
lab_stop tund-alice
check "tund exited cleanly (status $LAB_EXIT_STATUS)" test "$LAB_EXIT_STATUS" -eq 0
check "the hook's block is gone from the servers file after tund stopped: '$(tr '\n' ' ' < "$LAB_RUN/laptop-servers.conf")'" \
  eval '! grep -q dialout "$LAB_RUN/laptop-servers.conf"'
check "tund logged the removal" grep -q 'dns: hook settings removed from dl0' "$tlog"
check "fileserver.office-b.lan no longer resolves on the laptop" \
  wait_until 5 eval '[[ -z "$(resolve fileserver.office-b.lan)" ]]'
check "www.example.com still resolves" resolves_to www.example.com 192.0.2.80

# --- 6. the resolvectl path, with a stand-in resolvectl -----------------------
# No systemd-resolved here: a resolvectl first in tund's PATH records its
# arguments, so this proves what the daemon runs (split DNS, then revert).
mkdir -p "$LAB_RUN/fakebin"
printf '#!/bin/sh\necho "$*" >> "%s"\n' "$LAB_RUN/resolvectl.calls" > "$LAB_RUN/fakebin/resolvectl"
chmod +x "$LAB_RUN/fakebin/resolvectl"
PATH=$LAB_RUN/fakebin:$PATH lab_start_tund tund-alice2 laptop alice laptop-alice --request-address on --dns resolvectl
want=$'dns dl0 10.2.0.53\ndomain dl0 office-b.lan corp.example\ndefault-route dl0 false'
wait_until 20 eval '[[ "$(cat "$LAB_RUN/resolvectl.calls")" == "$want" ]]'
check "with dns = resolvectl tund sets split DNS on dl0: $(tr '\n' ';' < "$LAB_RUN/resolvectl.calls" 2>/dev/null)" \
  eval '[[ "$(cat "$LAB_RUN/resolvectl.calls")" == "$want" ]]'
lab_stop tund-alice2
check "and reverts it on exit: $(tail -n 1 "$LAB_RUN/resolvectl.calls" 2>/dev/null)" \
  eval '[[ "$(cat "$LAB_RUN/resolvectl.calls")" == "$want"$'"'"'\nrevert dl0'"'"' ]]'

finish
