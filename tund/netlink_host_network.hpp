// HostNetwork on the real kernel: addresses on the TUN device and proxy
// ARP/NDP through rtnetlink, change notifications from a NetlinkMonitor
// that ignores the TUN device (our own routes there are no roaming).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tund/netlink.hpp"
#include "tund/netlink_monitor.hpp"
#include "tund/proxy_neighbours.hpp"
#include "tund/host_network.hpp"

namespace dialout {

class NetlinkHostNetwork final : public HostNetwork {
 public:
  // `monitor` may be empty (no roaming detection).
  NetlinkHostNetwork(Netlink& netlink, int tun_ifindex, std::optional<NetlinkMonitor> monitor);

  Expected<void, std::string> add_tun_address(const Prefix& address) override;
  Expected<void, std::string> remove_tun_address(const Prefix& address) override;
  Expected<void, std::string> sync_proxy_neighbours(const std::map<IpAddr, Prefix>& wanted) override;
  size_t proxy_neighbour_count() const override;
  int change_fd() const override { return monitor_ ? monitor_->fd() : -1; }
  bool drain_changes() override;
  std::optional<IpAddr> route_source(const IpAddr& dst) override;
  Expected<std::vector<Prefix>, std::string> connected_prefixes() override;

 private:
  // The LAN interface serving `lan`, found once and remembered.
  Expected<int, std::string> lan_ifindex(const Prefix& lan, const IpAddr& inside);

  Netlink& netlink_;
  int tun_ifindex_;
  std::optional<NetlinkMonitor> monitor_;
  std::map<Prefix, int> lan_ifindexes_;
  std::map<int, ProxyNeighbours> neighbours_;  // per LAN interface
};

}  // namespace dialout
