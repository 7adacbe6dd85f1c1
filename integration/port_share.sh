#!/usr/bin/env bash
# Issue 11, relay side: the intermediary shares 203.0.113.1:443 with a web
# server. The web server (Debian's `openssl s_server -WWW`, its own TLS) listens
# on 127.0.0.1:8443 inside the relay's namespace, reachable from nowhere else;
# the intermediary runs with --share-port-backend 127.0.0.1:8443.
#
#   hostA --curl https://intermediary/page--> 203.0.113.1:443 (intermediary)
#                                               | ClientHello without dialout/1
#                                               v
#                                          127.0.0.1:8443 (s_server -WWW)
#   gwA --tund (ALPN dialout/1)-----------> 203.0.113.1:443 -> the relay
#
# Proves: both offices register through the shared port and ping each other;
# curl from hostA gets the page through the shared port (content compared) while
# both stay registered and still ping; a garbage ClientHello and a silent
# connection are closed by the intermediary and counted (status file); the
# offices did not reconnect meanwhile.
#
# Env: BUILD_DIR, LOG_LEVEL, KEEP_RUN=1.
set -uo pipefail
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
WEB_PORT=8443
HANDSHAKE_MS=2000

command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
command -v openssl >/dev/null || { echo "SKIP: openssl missing"; exit 77; }
intermediary_has_flag share-port-backend || { echo "SKIP: this intermediary has no --share-port-backend"; exit 77; }

log "port_share: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
trap lab_down EXIT
log "run directory $LAB_RUN"
lab_require_daemons || { fail "daemon binaries present"; lab_finish; }
lab_pki

# --- the web server sharing the port ------------------------------------------
www=$LAB_RUN/www
mkdir -p "$www"
page="dialout port-share test page $$ $(date +%s%N)"
printf '%s\n' "$page" > "$www/page.html"
# -WWW serves files relative to its working directory; the intermediary's
# certificate will do (SAN DNS:intermediary), curl checks it against the CA.
lab_start web relay bash -c "cd '$www' && exec openssl s_server -quiet -WWW -accept 127.0.0.1:$WEB_PORT \
  -cert '$LAB_RUN/pki/intermediary.crt' -key '$LAB_RUN/pki/intermediary.key'"
wait_until 10 lab_listening relay "$WEB_PORT" || { fail "web server listening on 127.0.0.1:$WEB_PORT"; lab_finish; }

# --- the intermediary on the shared port and both offices ---------------------
lab_write_policy
lab_start_intermediary --share-port-backend "127.0.0.1:$WEB_PORT" --handshake-timeout-ms "$HANDSHAKE_MS"
st=$(lab_status_file intermediary)
wait_until 10 lab_listening relay 443 || { fail "intermediary listening"; lab_finish; }
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24
lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24
if wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 &&
   wait_until 20 status_is "$(lab_status_file tund-b)" registered 1; then
  pass "both offices registered through the shared port"
else
  fail "both offices registered through the shared port within 20 s"
  lab_finish
fi
wait_until 10 lab_ping hostA 10.2.0.2
n=$(lab_ping_received hostA 10.2.0.2 5)
check "before: ping hostA -> hostB: $n/5 answered" test "$n" -eq 5
wait_until 5 status_ge "$st" share_to_relay 2
check "sites went to the relay by their ALPN id (share_to_relay $(status_value "$st" share_to_relay))" \
  status_ge "$st" share_to_relay 2
reconnects_a=$(status_value "$(lab_status_file tund-a)" reconnects || echo 0)
reconnects_b=$(status_value "$(lab_status_file tund-b)" reconnects || echo 0)

# --- a browser through the shared port ----------------------------------------
curl_page() {
  lab_exec hostA curl -sS --max-time 10 --cacert "$LAB_RUN/pki/ca.crt" \
    --resolve "intermediary:443:$RELAY_PUBLIC" "https://intermediary:443/page.html"
}
got=$(curl_page 2>"$LAB_RUN/logs/curl.err")
check "curl https://intermediary/page.html through the shared port returns the page" test "$got" == "$page"
got=$(curl_page 2>>"$LAB_RUN/logs/curl.err")
check "a second fetch too (the web server sees each connection byte for byte)" test "$got" == "$page"
wait_until 5 status_ge "$st" share_to_backend 2
check "counted as passed to the web server (share_to_backend $(status_value "$st" share_to_backend), \
bytes $(status_value "$st" share_bytes_to_backend) up / $(status_value "$st" share_bytes_from_backend) down)" \
  status_ge "$st" share_to_backend 2
check "the web server's answer came back through the splice" status_ge "$st" share_bytes_from_backend 100

# --- bad and silent clients ---------------------------------------------------
# A record that promises a handshake and carries a ServerHello: malformed.
lab_exec hostA timeout 5 bash -c \
  "exec 3<>/dev/tcp/$RELAY_PUBLIC/443; printf '\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00' >&3; cat <&3 >/dev/null 2>&1"
rc=$?
check "a garbage ClientHello is closed by the intermediary at once (reader ended: rc $rc, not 124)" test "$rc" -ne 124
wait_until 3 status_ge "$st" share_drop_malformed 1
check "... and counted (share_drop_malformed $(status_value "$st" share_drop_malformed))" \
  status_ge "$st" share_drop_malformed 1
t0=$(now_ms)
lab_exec hostA timeout $((HANDSHAKE_MS / 1000 + 5)) bash -c "exec 3<>/dev/tcp/$RELAY_PUBLIC/443; cat <&3 >/dev/null"
rc=$? waited=$(( $(now_ms) - t0 ))
check "a silent connection is closed after the handshake timeout ($waited ms, rc $rc)" \
  eval "((rc != 124 && waited >= HANDSHAKE_MS - 200))"
wait_until 3 status_ge "$st" share_drop_timeout 1
check "... and counted (share_drop_timeout $(status_value "$st" share_drop_timeout))" \
  status_ge "$st" share_drop_timeout 1
check "nothing bad reached the web server (share_to_backend still $(status_value "$st" share_to_backend))" \
  status_is "$st" share_to_backend 2

# --- the offices never noticed ------------------------------------------------
check "office A stayed registered" status_is "$(lab_status_file tund-a)" registered 1
check "office B stayed registered" status_is "$(lab_status_file tund-b)" registered 1
check "office A did not reconnect meanwhile" status_is "$(lab_status_file tund-a)" reconnects "$reconnects_a"
check "office B did not reconnect meanwhile" status_is "$(lab_status_file tund-b)" reconnects "$reconnects_b"
n=$(lab_ping_received hostA 10.2.0.2 5)
check "after: ping hostA -> hostB: $n/5 answered" test "$n" -eq 5
n=$(lab_ping_received hostB 10.1.0.2 5)
check "after: ping hostB -> hostA: $n/5 answered" test "$n" -eq 5
check "intermediary alive" lab_alive intermediary
lab_stop web
lab_finish
