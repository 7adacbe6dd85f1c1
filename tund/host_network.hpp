// What the site engine asks of the host's network stack beyond routes into
// its TUN device (RouteInstaller): addresses the intermediary assigned to
// the TUN device (laptop mode), proxy ARP/NDP entries on the LAN for
// laptops numbered inside this LAN, change notifications plus the source
// address towards the intermediary (roaming), and the host's connected
// networks (which learned routes must not take over). The daemon uses
// netlink (NetlinkHostNetwork); tests use MemoryHostNetwork
// (tests/support/memory_host_network.hpp).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

class HostNetwork {
 public:
  virtual ~HostNetwork() = default;

  // A host address (/32 or /128) on the TUN device.
  virtual Expected<void, std::string> add_tun_address(const Prefix& address) = 0;
  virtual Expected<void, std::string> remove_tun_address(const Prefix& address) = 0;

  // Makes the proxy ARP/NDP entries equal to `wanted`: address → the local
  // LAN prefix it lies in (the entry goes on that prefix's LAN interface).
  // Called before the addresses' host routes go into the TUN device, so the
  // LAN interface can still be found by a route lookup. The error lists
  // every address that could not be proxied and why.
  virtual Expected<void, std::string> sync_proxy_neighbours(const std::map<IpAddr, Prefix>& wanted) = 0;
  virtual size_t proxy_neighbour_count() const = 0;

  // Pollable (EPOLLIN) when addresses, routes or links changed; -1 when
  // this host network reports no changes.
  virtual int change_fd() const = 0;
  // Consumes pending notifications; true when something relevant changed.
  virtual bool drain_changes() = 0;
  // The local address the kernel would send from towards dst; nullopt when
  // there is no route (or the lookup failed).
  virtual std::optional<IpAddr> route_source(const IpAddr& dst) = 0;
  // The networks of the host's own addresses (canonical: 192.168.1.7/24 is
  // 192.168.1.0/24) on every interface except the TUN device.
  virtual Expected<std::vector<Prefix>, std::string> connected_prefixes() = 0;
};


}  // namespace dialout
