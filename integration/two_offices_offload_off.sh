#!/usr/bin/env bash
# The two-office scenario with TUN offloads off (no virtio-net header, one
# packet per read): the path every kernel without TUNSETOFFLOAD takes.
OFFLOAD=off exec "$(dirname "$0")/two_offices.sh" "$@"
