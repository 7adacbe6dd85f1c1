#!/usr/bin/env bash
# A malicious site: a certificate whose policy grant is wide (10.0.0.0/8, the
# relay's public network, even 0.0.0.0/0) tries to take traffic that belongs
# to others. Topology: the two offices of integration/lib.sh plus the rogue
# gateway "wide" hanging off the relay (100.64.1.2).
#
# Proves: advertising a prefix inside office-b's LAN (10.2.0.128/25) or one
# covering it (0.0.0.0/0) is refused by the intermediary with a reason that
# names the other site, counted, while both offices keep full connectivity
# (including the half of office-b's LAN the rogue wanted); a prefix covering
# the intermediary's own address (203.0.113.0/24), which no other site holds
# and the relay therefore accepts, is refused by every office's tund: not
# installed, logged once, and their connections to the relay keep going out
# of the WAN, not into the tunnel.
#
# Env: BUILD_DIR (default build), LOG_LEVEL, KEEP_RUN=1 keeps the run directory.
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
log "malicious_site: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
log "run directory $LAB_RUN"
lab_require_daemons || { fail "daemon binaries present"; lab_finish; }
lab_pki wide-site
lab_add_relay_host wide 1
# Office B's LAN also holds 10.2.0.200, in the half the rogue asks for.
lab_exec hostB ip addr add 10.2.0.200/24 dev eth0

if lab_start_offices; then pass "intermediary and both offices registered"; else fail "offices registered"; lab_finish; fi
cat >> "$LAB_RUN/policy.conf" <<'POLICY'

# Wide on purpose: a whole private range, the relay's network, everything.
[identity wide-site]
register = wide
advertise = 10.0.0.0/8, 203.0.113.0/24, 0.0.0.0/0
reach = *
POLICY
# The offices may reach it, so its routes are pushed to them.
sed -i 's/^reach = office-b$/reach = office-b, wide/; s/^reach = office-a$/reach = office-a, wide/' "$LAB_RUN/policy.conf"
kill -HUP "$(lab_pid intermediary)"
istatus=$(lab_status_file intermediary)
ilog=$LAB_RUN/logs/intermediary.log
wait_until 15 lab_ping hostA 10.2.0.2 || { fail "ping hostA -> hostB before the rogue"; lab_finish; }

# --- 1. prefixes inside and around office-b's LAN ----------------------------
for attempt in "10.2.0.128/25 inside" "0.0.0.0/0 around"; do
  read -r prefix how <<< "$attempt"
  refused=$(status_value "$istatus" refused_register || echo 0)
  lab_start_tund tund-wide wide wide-site wide --advertise "$prefix"
  if wait_until 15 grep -q "cannot register 'wide'.*$prefix" "$ilog"; then
    pass "intermediary refuses 'wide' advertising $prefix ($how office-b's 10.2.0.0/24): $(grep "cannot register 'wide'.*$prefix" "$ilog" | tail -n 1 | sed 's/.*refused: //')"
  else
    fail "intermediary refuses 'wide' advertising $prefix ($how office-b's 10.2.0.0/24)"
  fi
  check "the refusal names the other site (office-b or office-a)" \
    eval "grep \"cannot register 'wide'.*$prefix\" '$ilog' | grep -q \"site 'office-[ab]'\""
  check "intermediary counted it (refused_register $refused -> $(status_value "$istatus" refused_register))" \
    wait_until 3 status_ge "$istatus" refused_register $((refused + 1))
  check "'wide' never registered" eval "! status_is '$(lab_status_file tund-wide)' registered 1"
  lab_stop tund-wide
  check "gwB routes no part of its LAN into the tunnel ($(lab_exec gwB ip route show dev dl0 | tr '\n' ';'))" \
    eval "! lab_exec gwB ip route show dev dl0 | grep -q '^10\.2\.'"
  n=$(lab_ping_received hostA 10.2.0.200 5)
  check "office-a still reaches the contested half (10.2.0.200): $n/5" test "$n" -eq 5
  n=$(lab_ping_received hostB 10.1.0.2 5)
  check "office-b still reaches office-a: $n/5" test "$n" -eq 5
done

# --- 2. a prefix covering the intermediary's own address ---------------------
routes_refused=$(status_value "$(lab_status_file tund-a)" routes_refused || echo 0)
lab_start_tund tund-wide wide wide-site wide --advertise 203.0.113.0/24
check "the intermediary accepts 'wide' with 203.0.113.0/24 (nobody else holds it)" \
  wait_until 15 status_is "$(lab_status_file tund-wide)" registered 1
check "office-a's tund refuses the route (routes_refused $routes_refused -> $(status_value "$(lab_status_file tund-a)" routes_refused))" \
  wait_until 10 status_ge "$(lab_status_file tund-a)" routes_refused $((routes_refused + 1))
for side in a b; do
  gw=gw${side^^}
  check "$gw has no tunnel route for 203.0.113.0/24 ($(lab_exec "$gw" ip route show 203.0.113.0/24 | tr '\n' ';'))" \
    eval "! lab_exec $gw ip route show 203.0.113.0/24 | grep -q dl0"
  check "$gw still reaches the relay through its WAN ($(lab_exec "$gw" ip route get "$RELAY_PUBLIC" | head -n 1))" \
    eval "lab_exec $gw ip route get $RELAY_PUBLIC | grep -q 'dev wan0'"
  lines=$(grep -c "203.0.113.0/24" "$LAB_RUN/logs/tund-$side.log")
  check "tund-$side logged the refusal once ($lines line(s) naming 203.0.113.0/24)" test "$lines" -eq 1
done
n=$(lab_ping_received hostA 10.2.0.2 10)
check "office-a reaches office-b with the rogue registered: $n/10" test "$n" -eq 10
lab_tcp_transfer hostA 10.2.0.2 5001 $((20 * 1024 * 1024))
check "both offices still registered" \
  eval "status_is '$(lab_status_file tund-a)' registered 1 && status_is '$(lab_status_file tund-b)' registered 1"
lab_stop tund-wide
lab_finish
