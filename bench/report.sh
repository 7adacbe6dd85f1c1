# shellcheck shell=bash
# Markdown report for bench/run.sh (sourced by it, after the measurements).
# Reads the samples in $LAB_RUN/vals/<variant>.gro-<on|off>.<metric> (one
# number a line) and DONE_ROWS ("variant gro-X"); prints medians, ratios and
# the targets of the performance issue (reported, never asserted).

# med ROW METRIC : median of that row's samples, "" if none.
med() { median "$LAB_RUN/vals/${1/ /.}.$2"; }

fmt_num() { [[ -n "$1" ]] && echo "$1" || echo "—"; }

# ratio A B [DIGITS] : A/B, "—" if either is missing or B is 0.
ratio() {
  awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
    if (a == "" || b == "" || b + 0 == 0) { print "—"; exit }
    printf "%.*f×\n", d, a / b }'
}

# verdict OK? TEXT : one line of the targets list.
verdict() {
  case "$1" in
    yes) echo "- met: $2" ;;
    no) echo "- **not met**: $2" ;;
    *) echo "- not measured: $2" ;;
  esac
}

# cmp A OP B : "yes"/"no"/"" (missing) for A OP B with OP one of ge le.
cmp() {
  awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
    if (a == "" || b == "") { print ""; exit }
    r = (op == "ge") ? (a + 0 >= b + 0) : (a + 0 <= b + 0)
    print (r ? "yes" : "no") }'
}

report_header() {
  local cpu ovpn build_type commit
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  ovpn=$("$OVPN_BIN" --version 2>/dev/null | head -n 1 | awk '{ print $1, $2 }')
  build_type=$(awk -F= '/^CMAKE_BUILD_TYPE:/ { print $2 }' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
  # The source the binaries were built from: a tree exported with
  # "git archive" carries a .commit file; a checkout answers git.
  local src; src=$(awk -F= '/^CMAKE_HOME_DIRECTORY:/ { print $2 }' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
  commit=$(cat "$src/.commit" 2>/dev/null || git -C "${src:-$LAB_ROOT}" rev-parse --short HEAD 2>/dev/null)
  echo "# dialout data-path benchmark, $(date '+%F %T')"
  echo
  echo "Machine: ${cpu:-unknown CPU}, $(nproc) cores, kernel $(uname -r)."
  echo "Build: \`$BUILD_DIR\` (${build_type:-unknown type}), source ${commit:-?}; nice ${NICE:-0}; ${ovpn:-OpenVPN ?}; iperf3 $(iperf3 --version | awk 'NR == 1 { print $2 }')."
  echo "Load average when the report was written: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews absolute numbers; the variants share each run's conditions)."
  echo "Each cell is the median of $REPS run(s) of ${DURATION} s; $( ((SMOKE)) && echo 'SMOKE run (not a measurement to quote); ')UDP offered at $UDP_RATE with 64-byte payloads."
  echo
}

report_table() {
  local row v g
  echo "| variant | GRO | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 64 B kpps rx | UDP loss % | ping idle ms | ping loaded avg ms | ping loaded max ms | TUN bytes/pkt | CPU relay % | CPU gwA % |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for row in "${DONE_ROWS[@]}"; do
    v=${row% *}; g=${row#* gro-}
    printf '| %s | %s |' "$v" "$g"
    local m
    for m in tcp1_gbit tcp4_gbit udp_kpps udp_loss_pct ping_idle_ms ping_load_avg_ms ping_load_max_ms tun_avg_bytes cpu_server cpu_gwA; do
      printf ' %s |' "$(fmt_num "$(med "$row" "$m")")"
    done
    echo
  done
  echo
  echo "TUN bytes/pkt: average size of what the kernel handed to gwA's tunnel device during the single-stream test"
  echo "(> 1500 means TCP superpackets reached it). CPU: the relay's VPN process and gwA's, % of one core during that test."
  echo
}

report_ratios() {
  local g d p o m
  for g in "${GRO_PASSES[@]}"; do
    d="dialout gro-$g"; p="plain gro-$g"; o="openvpn-tcp gro-$g"
    [[ -s "$LAB_RUN/vals/dialout.gro-$g.tcp1_gbit" ]] || continue
    echo "### dialout against plain routing and OpenVPN (GRO $g)"
    echo
    echo "| metric | dialout | ÷ plain | ÷ OpenVPN TCP | ÷ OpenVPN UDP |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for m in tcp1_gbit tcp4_gbit udp_kpps ping_idle_ms ping_load_avg_ms; do
      printf '| %s | %s | %s | %s | %s |\n' "$m" "$(fmt_num "$(med "$d" "$m")")" \
        "$(ratio "$(med "$d" "$m")" "$(med "$p" "$m")")" \
        "$(ratio "$(med "$d" "$m")" "$(med "$o" "$m")")" \
        "$(ratio "$(med "$d" "$m")" "$(med "openvpn-udp gro-$g" "$m")")"
    done
    echo
    echo "Targets (reported, not asserted):"
    local t1 t4 ot1 ot4 pt1 pl ii oi
    t1=$(med "$d" tcp1_gbit); t4=$(med "$d" tcp4_gbit); pt1=$(med "$p" tcp1_gbit)
    ot1=$(med "$o" tcp1_gbit); ot4=$(med "$o" tcp4_gbit)
    pl=$(med "$d" ping_load_avg_ms); ii=$(med "$d" ping_idle_ms); oi=$(med "$o" ping_idle_ms)
    verdict "$(cmp "$t1" ge "$(awk -v x="$ot1" 'BEGIN { if (x != "") print x * 10 }')")" \
      "single TCP stream ≥ 10× OpenVPN TCP ($(fmt_num "$t1") vs $(fmt_num "$ot1") Gbit/s: $(ratio "$t1" "$ot1" 1))"
    verdict "$(cmp "$t1" ge "$(awk -v x="$pt1" 'BEGIN { if (x != "") print x * 0.4 }')")" \
      "single TCP stream ≥ 40 % of plain routing ($(ratio "$t1" "$pt1" 2) of $(fmt_num "$pt1") Gbit/s)"
    verdict "$(cmp "$t4" ge "$(awk -v x="$ot4" 'BEGIN { if (x != "") print x * 10 }')")" \
      "4 streams ≥ 10× OpenVPN TCP ($(fmt_num "$t4") vs $(fmt_num "$ot4") Gbit/s: $(ratio "$t4" "$ot4" 1))"
    verdict "$(cmp "$pl" le 2)" "ping under load ≤ 2 ms average ($(fmt_num "$pl") ms, max $(fmt_num "$(med "$d" ping_load_max_ms)") ms)"
    verdict "$(cmp "$ii" le "$(awk -v x="$oi" 'BEGIN { if (x != "") print x * 0.6 }')")" \
      "idle RTT ≤ 0.6× OpenVPN TCP's ($(fmt_num "$ii") vs $(fmt_num "$oi") ms: $(ratio "$ii" "$oi" 2))"
    echo
  done
}

# The proxy's cost: dialout with office A behind squid against dialout
# direct and plain routing, in the same run (only when that row was measured).
report_squid() {
  local g s d p m
  for g in "${GRO_PASSES[@]}"; do
    s="dialout-squid gro-$g"; d="dialout gro-$g"; p="plain gro-$g"
    [[ -s "$LAB_RUN/vals/dialout-squid.gro-$g.tcp1_gbit" ]] || continue
    echo "### dialout with office A through squid (HTTP CONNECT) against dialout direct and plain routing (GRO $g)"
    echo
    echo "| metric | dialout-squid | ÷ dialout | ÷ plain |"
    echo "| --- | ---: | ---: | ---: |"
    for m in tcp1_gbit tcp4_gbit udp_kpps ping_idle_ms ping_load_avg_ms; do
      printf '| %s | %s | %s | %s |\n' "$m" "$(fmt_num "$(med "$s" "$m")")" \
        "$(ratio "$(med "$s" "$m")" "$(med "$d" "$m")")" "$(ratio "$(med "$s" "$m")" "$(med "$p" "$m")")"
    done
    echo
  done
}

report_write() { # report_write FILE
  {
    report_header
    report_table
    report_ratios
    report_squid
    [[ "$PROFILE" == 1 ]] && echo "Profile: \`bench/results/profile-$STAMP.txt\`."
    echo "Reproduce: \`sudo BUILD_DIR=$BUILD_DIR REPS=$REPS DURATION=$DURATION GRO=$GRO VARIANTS='$VARIANTS' bench/run.sh\`"
  } > "$1"
}
