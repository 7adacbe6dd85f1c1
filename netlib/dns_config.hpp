// What a site is told about name resolution for its tunnel (issue 15): the
// resolvers behind the tunnel and the domains they answer for. The one rule
// for both, shared by the policy parser (intermediary), the wire decoder
// and tund, so nothing that one end accepts is refused by the other.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/ip_address.hpp"

namespace dialout {

// Bounds: resolv.conf readers use 3 servers, resolved any number; 8 is room
// for v4 and v6 of a few resolvers. 16 search domains of 253 bytes keep a
// DNS_CONFIG frame under 4.2 KB.
inline constexpr size_t kMaxDnsServers = 8;
inline constexpr size_t kMaxDnsDomains = 16;
inline constexpr size_t kMaxDnsDomainLength = 253;

struct DnsConfig {
  std::vector<IpAddr> servers;      // in order of preference
  std::vector<std::string> domains;  // split DNS: names in these go to `servers`
  // Empty means "no DNS for this site": whatever was applied is removed.
  bool empty() const { return servers.empty() && domains.empty(); }
  bool operator==(const DnsConfig&) const = default;
};

// A domain name in canonical form: lower case, labels of 1..63 characters
// of [a-z0-9-] (and '_', used by some internal zones), not starting or
// ending with '-', joined by single dots, no trailing dot, 1..253 bytes,
// and not all digits in the last label (so "10.1.0.53" is never a domain).
bool valid_dns_domain(std::string_view name);

// A resolver address a site can use through the tunnel: unicast and
// routable; not unspecified, loopback, multicast, broadcast or IPv6
// link-local (which would need a scope the wire does not carry).
bool usable_dns_server(const IpAddr& addr);

// A whole config as sent: within the bounds, every field valid, no repeats,
// and servers and domains both present or both absent (servers without
// domains would route no name; domains without servers have nowhere to go).
bool valid_dns_config(const DnsConfig& config);

}  // namespace dialout
