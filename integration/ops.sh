#!/usr/bin/env bash
# Operating the daemons (issue 14): the control socket, dialoutctl and the
# Prometheus endpoint, on the two-offices lab (integration/lib.sh).
#
# Proves: during a TCP transfer `dialoutctl status --json` on the relay lists
# both sites as ready sessions and on gateway A its uplinks, with byte counts
# that grow; `dialoutctl routes` names both sites' prefixes;
# `dialoutctl kill office-b` closes office-b's session with a reason
# office-b logs, office-b reconnects (a new session id) and ping works
# again; the metrics endpoints of both daemons pass `promtool check metrics`;
# a malformed and an oversized request get error replies, a silent client
# is closed, and the daemon keeps answering; dialoutctl's exit codes.
# Reloads re-check live sessions: with office-b's section removed from the
# policy, `dialoutctl reload` closes office-b's session with a refusal
# office-b logs once, saying what to change, and it does not come back
# although it keeps asking (slowly, quietly; its connections show
# `refused`); the section restored and reloaded, it is back at its next
# retry; with gw-a's certificate revoked in the CRL, a reload closes
# office-a's live session within a second.
# Certificate renewal: gw-a's certificate and key are replaced by a new one
# (another expiry) while a checksummed TCP stream runs A -> B; SIGHUP moves
# tund-a's two connections to it one at a time; the stream loses nothing
# (same bytes, same sha256; the longest pause is reported, not asserted) and
# `dialoutctl status` on gateway A and on the relay shows the new expiry.
#
# Env: BUILD_DIR (default build), LOG_LEVEL, KEEP_RUN=1.
set -uo pipefail
# shellcheck disable=SC2119 # helpers take optional extra flags
# shellcheck source=integration/lib.sh
source "$(dirname "$0")/lib.sh"

lab_require_root
for tool in promtool curl nc "$PY"; do
  if ! command -v "$tool" >/dev/null; then echo "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; fi
done

ctl() { "$DIALOUTCTL_BIN" --socket "$LAB_RUN/$1.sock" "${@:2}"; }
# json_get FILE PYTHON-EXPR : evaluates EXPR over the JSON object `j` in FILE.
json_get() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
# raw_request SOCKET BYTES-FILE : the daemon's whole reply to those bytes.
raw_request() { nc -U -q 2 -w 5 "$1" < "$2" 2>/dev/null; }

log "ops: namespaces ${LAB_PREFIX}*, build $BUILD_DIR"
lab_up
log "run directory $LAB_RUN"
lab_require_daemons || { fail "daemon binaries present"; lab_finish; }
[[ -x "$DIALOUTCTL_BIN" ]] || { fail "dialoutctl built ($DIALOUTCTL_BIN)"; lab_finish; }
lab_pki --crl
lab_write_policy
lab_start_intermediary --metrics-listen "$RELAY_PUBLIC:9101" --crl "$LAB_RUN/pki/ca.crl"
wait_until 10 lab_listening relay 443 || { fail "intermediary listening"; lab_finish; }
lab_start_tund tund-a gwA gw-a office-a --advertise 10.1.0.0/24 --metrics-listen 127.0.0.1:9102 --connections 2
lab_start_tund tund-b gwB gw-b office-b --advertise 10.2.0.0/24 --refused-retry-ms 1000
if wait_until 20 status_is "$(lab_status_file tund-a)" registered 1 &&
   wait_until 20 status_is "$(lab_status_file tund-b)" registered 1; then
  pass "intermediary and both tund registered"
else
  fail "intermediary and both tund registered within 20 s"; lab_finish
fi
check "first ping hostA -> hostB" wait_until 15 lab_ping hostA 10.2.0.2

# --- 1. status during a transfer ---------------------------------------------
check "control sockets exist with mode 0600 (no control-group)" \
  test "$(stat -c %a "$LAB_RUN/intermediary.sock" 2>/dev/null)" = 600 -a -S "$LAB_RUN/tund-a.sock"
lab_start tcp-sink hostB "$PY" "$LAB_ROOT/integration/labnet.py" tcp-sink 10.2.0.2 5001 60 "$LAB_RUN/tcp.result"
wait_until 5 test -e "$LAB_RUN/tcp.result.ready"
lab_start tcp-send hostA "$PY" "$LAB_ROOT/integration/labnet.py" tcp-send 10.2.0.2 5001 $((400 * 1024 * 1024)) 60
# relay_bytes_in FILE SITE : the site's bytes_in over its sessions in a saved status.
relay_bytes_in() { json_get "$1" "sum(s['bytes_in'] for s in j['sessions'] if s['site'] == '$2')"; }
# shellcheck disable=SC2317 # called through wait_until
transfer_running() {  # the first sample: taken once the transfer is under way (> 4 MB in)
  ctl intermediary status --json > "$LAB_RUN/relay1.json" && ctl tund-a status --json > "$LAB_RUN/a1.json" &&
    (( $(relay_bytes_in "$LAB_RUN/relay1.json" office-a) > 4000000 ))
}
wait_until 10 transfer_running
ctl intermediary status --json > /dev/null; rc1=$?
check "dialoutctl status --json on the relay exits 0" test "$rc1" -eq 0
sites=$(json_get "$LAB_RUN/relay1.json" "' '.join(sorted(set(s['site'] for s in j['sessions'] if s['state'] == 'ready')))")
check "relay status lists office-a and office-b as ready sessions (got '$sites')" test "$sites" = "office-a office-b"
path=$(json_get "$LAB_RUN/relay1.json" "','.join(sorted(set(s['path'] for s in j['sessions'])))")
check "relay sessions' path is tls (got '$path')" test "$path" = tls
b_in1=$(relay_bytes_in "$LAB_RUN/relay1.json" office-a)
# shellcheck disable=SC2317 # called through wait_until
grown() {  # the second sample, polled until it moved
  ctl intermediary status --json > "$LAB_RUN/relay2.json" && ctl tund-a status --json > "$LAB_RUN/a2.json" &&
    (( $(relay_bytes_in "$LAB_RUN/relay2.json" office-a) > b_in1 + 1000000 ))
}
wait_until 10 grown
b_in2=$(relay_bytes_in "$LAB_RUN/relay2.json" office-a)
check "relay: office-a's bytes_in grows during the transfer ($b_in1 -> $b_in2)" test "${b_in2:-0}" -gt "${b_in1:-0}"
b_out1=$(json_get "$LAB_RUN/relay1.json" "sum(s['bytes_out'] for s in j['sessions'] if s['site'] == 'office-b')")
b_out2=$(json_get "$LAB_RUN/relay2.json" "sum(s['bytes_out'] for s in j['sessions'] if s['site'] == 'office-b')")
check "relay: office-b's bytes_out grows during the transfer ($b_out1 -> $b_out2)" test "${b_out2:-0}" -gt "${b_out1:-0}"
exp=$(json_get "$LAB_RUN/relay1.json" "[s['cert_expires'] for s in j['sessions'] if s['site'] == 'office-a'][0]")
check "relay shows office-a's certificate expiry ($exp)" test -n "$exp"
# shellcheck disable=SC2317 # called through wait_until
relay_rtt_known() {
  ctl intermediary status --json > "$LAB_RUN/relay-rtt.json" &&
    [[ "$(json_get "$LAB_RUN/relay-rtt.json" "all(s['rtt_ms'] is not None for s in j['sessions'] if s['state'] == 'ready')")" == True ]]
}
check "the relay shows an RTT for every ready session (TCP's, sampled every 5 s)" wait_until 12 relay_rtt_known
ready=$(json_get "$LAB_RUN/a1.json" "sum(1 for u in j['uplinks'] if u['state'] == 'ready' and u['site'] == 'office-a')")
check "gateway A status lists its ready uplinks ($ready)" test "${ready:-0}" -ge 1
a_out1=$(json_get "$LAB_RUN/a1.json" "sum(u['bytes_out'] for u in j['uplinks'])")
a_out2=$(json_get "$LAB_RUN/a2.json" "sum(u['bytes_out'] for u in j['uplinks'])")
check "gateway A: uplink bytes_out grows during the transfer ($a_out1 -> $a_out2)" test "${a_out2:-0}" -gt "${a_out1:-0}"
routes=$(ctl intermediary routes)
check "dialoutctl routes on the relay names 10.1.0.0/24 office-a and 10.2.0.0/24 office-b" \
  grep -qE '^10\.1\.0\.0/24 +office-a' <<< "$routes"
grep -qE '^10\.2\.0\.0/24 +office-b' <<< "$routes" || fail "relay routes lack office-b: $routes"
check "dialoutctl routes on gateway A names 10.2.0.0/24 via office-b" \
  grep -qE '^10\.2\.0\.0/24 +office-b +routed' <<< "$(ctl tund-a routes)"
check "human status table has a header row" grep -q '^id  *site  *identity' <<< "$(ctl intermediary status)"
lab_stop tcp-send
lab_stop tcp-sink

# --- 2. metrics -----------------------------------------------------------------
lab_exec relay curl -sf "http://$RELAY_PUBLIC:9101/metrics" > "$LAB_RUN/relay.metrics"
check "relay /metrics passes promtool check metrics" promtool check metrics < "$LAB_RUN/relay.metrics"
check "relay metrics carry dialout_relay_frames_forwarded_total and per-site sessions" \
  grep -qE '^dialout_relay_site_sessions\{site="office-b",path="tls"\} [1-9]' "$LAB_RUN/relay.metrics"
grep -q '^dialout_relay_frames_forwarded_total [1-9]' "$LAB_RUN/relay.metrics" || fail "no forwarded frames in relay metrics"
lab_exec gwA curl -sf "http://127.0.0.1:9102/metrics" > "$LAB_RUN/a.metrics"
check "gateway A /metrics passes promtool check metrics" promtool check metrics < "$LAB_RUN/a.metrics"
check "gateway A metrics: dialout_site_registered 1" grep -q '^dialout_site_registered 1' "$LAB_RUN/a.metrics"
code=$(lab_exec relay curl -s -o /dev/null -w '%{http_code}' "http://$RELAY_PUBLIC:9101/other")
check "other paths get 404 (got $code)" test "$code" = 404

# --- 3. kill ----------------------------------------------------------------------
old_id=$(json_get "$LAB_RUN/relay1.json" "[s['id'] for s in j['sessions'] if s['site'] == 'office-b'][0]")
out=$(ctl intermediary kill office-b); rc=$?
check "dialoutctl kill office-b exits 0 ($out)" test "$rc" -eq 0
check "office-b logs the reason it was closed" \
  wait_until 5 grep -q "closed by the intermediary's operator" "$LAB_RUN/logs/tund-b.log"
# shellcheck disable=SC2317 # called through wait_until
new_session() {
  ctl intermediary status --json > "$LAB_RUN/relay3.json" || return 1
  local id
  id=$(json_get "$LAB_RUN/relay3.json" "[s['id'] for s in j['sessions'] if s['site'] == 'office-b' and s['state'] == 'ready'][0]")
  [[ -n "$id" && "$id" != "$old_id" ]]
}
check "office-b reconnects with a new session id (was $old_id)" wait_until 15 new_session
check "tund-b is still running (a kill is temporary)" lab_alive tund-b
check "ping hostA -> hostB works again after the kill" wait_until 15 lab_ping hostA 10.2.0.2
ctl intermediary kill no-such-site 2>/dev/null; rc=$?
check "kill of an unknown site exits 1 (got $rc)" test "$rc" -eq 1
ctl tund-a kill office-b 2>/dev/null; rc=$?
check "kill on a gateway is refused, exit 1 (got $rc)" test "$rc" -eq 1
"$DIALOUTCTL_BIN" --socket "$LAB_RUN/nothing.sock" status 2>/dev/null; rc=$?
check "an absent socket exits 2 (got $rc)" test "$rc" -eq 2
"$DIALOUTCTL_BIN" --socket "$LAB_RUN/intermediary.sock" frobnicate 2>/dev/null; rc=$?
check "a bad command exits 64 before sending (got $rc)" test "$rc" -eq 64

# --- 4. hostile requests ---------------------------------------------------------
printf 'status\001\n' > "$LAB_RUN/bad.req"
reply=$(raw_request "$LAB_RUN/intermediary.sock" "$LAB_RUN/bad.req")
check "malformed request gets an error reply ($reply)" grep -q '^error .*not printable' <<< "$reply"
head -c 100000 /dev/zero | tr '\0' a > "$LAB_RUN/big.req"
reply=$(raw_request "$LAB_RUN/intermediary.sock" "$LAB_RUN/big.req")
check "oversized request gets an error reply ($reply)" grep -q '^error request over 4096 bytes' <<< "$reply"
reply=$(raw_request "$LAB_RUN/tund-a.sock" "$LAB_RUN/big.req")
check "... on tund too ($reply)" grep -q '^error request over 4096 bytes' <<< "$reply"
# A silent client is closed after 2 s; meanwhile others are served.
# shellcheck disable=SC2317 # called through check
quiet() { "$@" > /dev/null; }
lab_start silent - nc -U "$LAB_RUN/intermediary.sock"
check "status answers while a silent client is connected" quiet ctl intermediary status --json
# shellcheck disable=SC2317 # called through wait_until
silent_gone() { ! lab_alive silent; }
check "the daemon closes the silent client (within 5 s)" wait_until 5 silent_gone
lab_stop silent
check "the intermediary still runs and answers" quiet ctl intermediary routes
check "tund still runs and answers" quiet ctl tund-a routes
check "reload through the control socket reloads the policy" quiet ctl intermediary reload
check "... and the intermediary's own certificate: $(grep -m1 -o 'reloaded our certificate.*' "$LAB_RUN/logs/intermediary.log")" \
  grep -q "reloaded our certificate (expires 20" "$LAB_RUN/logs/intermediary.log"
check "ping hostA -> hostB still works" lab_ping hostA 10.2.0.2 3

# --- 5. certificate renewal on a gateway during a transfer -----------------------
# uplink_expiries FILE : the distinct cert_expires of gateway A's ready uplinks.
uplink_expiries() { json_get "$1" "' '.join(sorted(set(u['cert_expires'] for u in j['uplinks'] if u['state'] == 'ready')))"; }
ctl tund-a status --json > "$LAB_RUN/renew0.json"
reconnects0=$(status_value "$(lab_status_file tund-a)" reconnects)
old_exp=$(uplink_expiries "$LAB_RUN/renew0.json")
mkdir -p "$LAB_RUN/pki-renew" && cp "$LAB_RUN/pki"/ca.{crt,key} "$LAB_RUN/pki-renew/"
"$LAB_ROOT/scripts/make-pki.sh" "$LAB_RUN/pki-renew" --days 400 gw-a >/dev/null
new_exp=$(date -u -d "$(openssl x509 -enddate -noout -in "$LAB_RUN/pki-renew/gw-a.crt" | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
rm -f "$LAB_RUN"/renew.{sink,sent}*
lab_start renew-sink hostB "$PY" "$LAB_ROOT/integration/labnet.py" gap-sink 10.2.0.2 5004 60 "$LAB_RUN/renew.sink" 200
wait_until 5 test -e "$LAB_RUN/renew.sink.ready"
lab_start renew-send hostA "$PY" "$LAB_ROOT/integration/labnet.py" tcp-stream 10.2.0.2 5004 8 20000 "$LAB_RUN/renew.sent"
sleep 2
# Certificate first, then key, each by rename: tund reads them on SIGHUP only.
cp "$LAB_RUN/pki-renew/gw-a.crt" "$LAB_RUN/pki/gw-a.crt.new" && mv -f "$LAB_RUN/pki/gw-a.crt.new" "$LAB_RUN/pki/gw-a.crt"
cp "$LAB_RUN/pki-renew/gw-a.key" "$LAB_RUN/pki/gw-a.key.new" && mv -f "$LAB_RUN/pki/gw-a.key.new" "$LAB_RUN/pki/gw-a.key"
kill -HUP "$(lab_pid tund-a)"
# shellcheck disable=SC2317 # called through wait_until
renewed() {
  ctl tund-a status --json > "$LAB_RUN/renew1.json" &&
    [[ "$(uplink_expiries "$LAB_RUN/renew1.json")" == "$new_exp" ]] &&
    [[ "$(json_get "$LAB_RUN/renew1.json" "sum(1 for u in j['uplinks'] if u['state'] == 'ready')")" == 2 ]]
}
check "SIGHUP: both of gateway A's uplinks show the new expiry $new_exp (was $old_exp)" wait_until 15 renewed
check "tund-a logs that every connection uses the new certificate" \
  wait_until 5 grep -q "every connection uses the new certificate" "$LAB_RUN/logs/tund-a.log"
relay_exp=$(ctl intermediary status --json > "$LAB_RUN/renew2.json" &&
  json_get "$LAB_RUN/renew2.json" "' '.join(sorted(set(s['cert_expires'] for s in j['sessions'] if s['site'] == 'office-a')))")
check "the relay shows office-a's new expiry ($relay_exp)" test "$relay_exp" = "$new_exp"
lab_wait_exit renew-send 30 || lab_stop renew-send
wait_until 10 test -s "$LAB_RUN/renew.sink"
lab_stop renew-sink
read -r sb ssha < "$LAB_RUN/renew.sent" 2>/dev/null || { sb=0; ssha=none; }
read -r rb rsha _ gap < "$LAB_RUN/renew.sink" 2>/dev/null || { rb=0; rsha=none; gap=-1; }
check "the TCP stream across the renewal lost nothing: sent $sb, received $rb, sha256 $([[ $ssha == "$rsha" ]] && echo matches || echo differs); longest pause ${gap} ms" \
  test "$sb" -gt 0 -a "$sb" = "$rb" -a "$ssha" = "$rsha"
check "tund-a did not count the move as reconnects (still $reconnects0)" \
  status_is "$(lab_status_file tund-a)" reconnects "$reconnects0"

# --- 6. reload re-checks live sessions ---------------------------------------------
# relay_sessions SITE : how many ready sessions the relay lists for SITE.
relay_sessions() {
  ctl intermediary status --json > "$LAB_RUN/relay5.json" || return 1
  json_get "$LAB_RUN/relay5.json" "sum(1 for s in j['sessions'] if s['site'] == '$1' and s['state'] == 'ready')"
}
# shellcheck disable=SC2317 # called through wait_until
no_sessions() { [[ "$(relay_sessions "$1")" == 0 ]]; }
cp "$LAB_RUN/policy.conf" "$LAB_RUN/policy.orig"
"$PY" - "$LAB_RUN/policy.conf" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
open(sys.argv[1], "w").write(re.sub(r"\[identity gw-b\][^\[]*", "", text))
PYEOF
check "policy without gw-b's section: dialoutctl reload exits 0" quiet ctl intermediary reload
check "office-b's session is closed after the reload" wait_until 5 no_sessions office-b
refused_line="the intermediary refused us: name not allowed for this identity: .*may not register name 'office-b'.*change this site's .name."
check "office-b logs the refusal and what to change" wait_until 5 grep -q "$refused_line" "$LAB_RUN/logs/tund-b.log"
log "  $(grep -m1 -o "refused us: name not allowed.*" "$LAB_RUN/logs/tund-b.log")"
refusals0=$(status_value "$(lab_status_file intermediary)" refused_register)
# shellcheck disable=SC2317 # called through wait_until
asked_again() { status_ge "$(lab_status_file intermediary)" refused_register $((refusals0 + 3)); }
check "office-b keeps asking, slowly (3 more refusals within 10 s at --refused-retry-ms 1000)" wait_until 10 asked_again
check "office-b does not come back ($(relay_sessions office-b) sessions) and still runs" \
  bash -c "[[ \"\$1\" == 0 ]] && kill -0 \"\$2\"" _ "$(relay_sessions office-b)" "$(lab_pid tund-b)"
check "office-b said it once, not once per attempt ($(grep -c "$refused_line" "$LAB_RUN/logs/tund-b.log") lines)" \
  test "$(grep -c "$refused_line" "$LAB_RUN/logs/tund-b.log")" -eq 1
ctl tund-b status --json > "$LAB_RUN/refused.json"
check "office-b's connections show 'refused'" \
  test "$(json_get "$LAB_RUN/refused.json" "all(u['state'] == 'refused' for u in j['uplinks'])")" = True
check "the intermediary counts it (closed_by_reload)" status_ge "$(lab_status_file intermediary)" closed_by_reload 1
check "office-a is untouched by the policy reload" test "$(relay_sessions office-a)" -ge 1
cp "$LAB_RUN/policy.orig" "$LAB_RUN/policy.conf"
quiet ctl intermediary reload
# shellcheck disable=SC2317 # called through wait_until
b_back() { [[ "$(relay_sessions office-b)" -ge 1 ]]; }
check "gw-b's section restored: office-b is back at its next retry, untouched" wait_until 10 b_back
cp "$LAB_RUN/policy.orig" "$LAB_RUN/policy.conf"
# Revocation: gw-a's certificate into the CRL, then a reload.
"$LAB_ROOT/scripts/make-pki.sh" "$LAB_RUN/pki" --crl-only --revoked gw-a >/dev/null
t0=$(now_ms)
ctl intermediary reload > /dev/null
wait_until 5 no_sessions office-a
ms=$(( $(now_ms) - t0 ))
check "revoked gw-a + reload: office-a's live session closed in ${ms} ms (<= 1000)" test "$ms" -le 1000
check "office-a logs why: $(grep -m1 'revoked (CRL reloaded)' "$LAB_RUN/logs/tund-a.log")" \
  grep -q "revoked (CRL reloaded)" "$LAB_RUN/logs/tund-a.log"
lab_finish
