// The source address for what the gateway itself sends into the tunnel
// (its own pings, the ICMP errors path-MTU discovery needs, replies from
// its services): the routes tund installs into the TUN device carry it as
// their preferred source (RTA_PREFSRC). Without one the kernel picks any
// local address, typically one outside every advertised prefix, and the
// intermediary drops the datagram as spoofed.
//
// Pure: the caller gathers the candidates.
#pragma once

#include <optional>
#include <vector>

#include "netlib/ip_address.hpp"

namespace dialout {

struct PreferredSources {
  std::optional<IpAddr> v4, v6;
  // The one for a route of prefix's family.
  const std::optional<IpAddr>& for_route(const Prefix& route) const { return route.addr.family == Family::V4 ? v4 : v6; }
  bool operator==(const PreferredSources&) const = default;
};

// Per family, the first candidate inside an advertised prefix: a TUN
// address (--tun-address) first, then `lan_sources` (the host's own
// addresses towards the advertised prefixes, e.g. the LAN interface's).
PreferredSources choose_preferred_sources(const std::vector<Prefix>& advertised, const std::vector<Prefix>& tun_addresses,
                                          const std::vector<IpAddr>& lan_sources);

}  // namespace dialout
