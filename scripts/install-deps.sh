#!/usr/bin/env bash
# Installs everything needed to build dialout and run its tests on Debian 12.
# Idempotent and quiet: asks dpkg first and only runs apt-get (one update, one
# install) when a package is missing, so repeated CI runs cost nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libssl-dev libmnl-dev libfmt-dev libboost-program-options-dev
  libgtest-dev googletest
  iproute2 nftables iperf3 iputils-ping procps openssl curl
  netcat-openbsd python3 shellcheck
  systemd            # systemd-analyze, for scripts/check-units.sh
  clang libclang-rt-14-dev   # fuzz build (libFuzzer)
  openvpn            # comparison benchmarks
  ethtool            # bench/run.sh: GRO on the lab's veths
  conntrack          # integration/faults.sh: flush a gateway's NAT state
)

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
