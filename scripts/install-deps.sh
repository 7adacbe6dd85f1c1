#!/usr/bin/env bash
# Installs what dialout needs on Debian 12. Idempotent and quiet: asks dpkg
# first and only runs apt-get (one update, one install) when a package is
# missing, so repeated CI runs cost nothing.
#
#   install-deps.sh          everything: build, tests, fuzzing, comparison peers
#   install-deps.sh demo     only what scripts/demo.sh needs (build the daemons, run the lab)
set -euo pipefail

demo_packages=(
  build-essential cmake ninja-build pkg-config
  libssl-dev libmnl-dev libfmt-dev libboost-program-options-dev
  iproute2 nftables iperf3 iputils-ping procps openssl python3
)
packages=(
  "${demo_packages[@]}"
  libgtest-dev googletest
  curl netcat-openbsd shellcheck
  systemd            # systemd-analyze, for scripts/check-units.sh
  go-md2man          # man pages (cmake/packaging.cmake)
  dpkg-dev           # dpkg-shlibdeps: the package's Depends (cpack, scripts/package-check.sh)
  man-db             # scripts/package-check.sh renders the man pages
  clang libclang-rt-14-dev   # fuzz build (libFuzzer)
  openvpn            # comparison benchmarks
  ethtool            # bench/run.sh: GRO on the lab's veths
  conntrack          # integration/faults.sh: flush a gateway's NAT state
  squid              # integration/proxy.sh: HTTP CONNECT proxy with Basic auth (basic_ncsa_auth)
  dante-server       # integration/proxy.sh: SOCKS5 proxy with username/password (danted)
  prometheus         # promtool: integration/ops.sh checks the metrics endpoint
  dnsmasq-base       # integration/dns.sh: the resolvers (HQ's, the internet's, the laptop's); no service
)

case "${1:-all}" in
  all) ;;
  demo) packages=("${demo_packages[@]}") ;;
  *) echo "usage: $0 [all|demo]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]} (run as root to install)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
