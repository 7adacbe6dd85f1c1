// Kernel routes into the TUN device, through netlink.
#pragma once

#include <string>

#include "tund/netlink.hpp"
#include "tund/route_installer.hpp"

namespace dialout {

class NetlinkRouteInstaller final : public RouteInstaller {
 public:
  NetlinkRouteInstaller(Netlink& netlink, int ifindex, std::string device)
      : netlink_(netlink), ifindex_(ifindex), device_(std::move(device)) {}
  Expected<void, std::string> add(const Prefix& prefix, const std::optional<IpAddr>& prefsrc) override;
  Expected<void, std::string> remove(const Prefix& prefix) override;

 private:
  Netlink& netlink_;
  int ifindex_;
  std::string device_;
};

}  // namespace dialout
