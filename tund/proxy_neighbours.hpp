// Keeps the proxy ARP (IPv4) / proxy NDP (IPv6) entries on one LAN
// interface equal to a wanted set: the addresses of remote laptops that are
// numbered inside this LAN and connected right now, so LAN hosts reach them
// directly through this host (which routes them into the tunnel).
//
// The kernel only answers for a proxy entry when the interface forwards
// (net.ipv4.conf.<if>.forwarding, net.ipv6.conf.<if>.forwarding) and, for
// IPv6, when proxy_ndp is on. Forwarding is a host-wide routing decision,
// so it is checked and reported, never changed here; proxy_ndp only
// concerns this interface, so it is switched on when the first IPv6 entry
// is wanted and restored by clear().
#pragma once

#include <optional>
#include <set>
#include <string>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "tund/netlink.hpp"

namespace dialout {

class ProxyNeighbours {
 public:
  // Works on lan_ifindex in the calling thread's network namespace, with a
  // netlink socket of its own.
  static Expected<ProxyNeighbours, std::string> open(int lan_ifindex);

  ProxyNeighbours(ProxyNeighbours&& other) noexcept;
  ProxyNeighbours& operator=(ProxyNeighbours&& other) noexcept;
  ProxyNeighbours(const ProxyNeighbours&) = delete;
  ProxyNeighbours& operator=(const ProxyNeighbours&) = delete;
  ~ProxyNeighbours();  // clear(), errors swallowed

  // Adds the missing entries and removes the extra ones (only entries this
  // object added are ever removed). Every address is attempted; the error,
  // if any, lists each failure, e.g. an address of a family whose
  // forwarding is off on the interface (that address is then not proxied).
  Expected<void, std::string> sync(const std::set<IpAddr>& wanted);
  // Removes every entry it added and restores proxy_ndp. Call on exit.
  Expected<void, std::string> clear();

  const std::set<IpAddr>& installed() const { return installed_; }
  int ifindex() const { return ifindex_; }
  const std::string& interface_name() const { return name_; }

 private:
  ProxyNeighbours(Netlink nl, int ifindex, std::string name)
      : netlink_(std::move(nl)), ifindex_(ifindex), name_(std::move(name)) {}
  // Why family's proxying cannot work on this interface, or nothing.
  std::optional<std::string> blocker(Family family);

  std::optional<Netlink> netlink_;  // empty once moved from
  int ifindex_;
  std::string name_;
  std::set<IpAddr> installed_;
  std::optional<std::string> saved_proxy_ndp_;  // set while we changed it
};

// The interface the kernel would use to reach addr (RTM_GETROUTE oif): the
// LAN interface for an address inside a LAN prefix. Ask before routing a
// laptop's address into the TUN device, or ask for the LAN prefix's own
// first address, since a host route to the TUN wins otherwise.
Expected<int, std::string> lan_interface_for(Netlink& netlink, const IpAddr& addr);

}  // namespace dialout
