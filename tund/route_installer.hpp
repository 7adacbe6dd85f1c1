// Where the site engine puts kernel routes into its TUN device. The daemon
// uses netlink (NetlinkRouteInstaller); tests use MemoryRouteInstaller
// (tests/support/memory_route_installer.hpp).
#pragma once

#include <optional>
#include <string>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

class RouteInstaller {
 public:
  virtual ~RouteInstaller() = default;
  // Adds or replaces. `prefsrc`: the source the host prefers for what it
  // sends itself along the route (see tund/preferred_source.hpp).
  virtual Expected<void, std::string> add(const Prefix& prefix, const std::optional<IpAddr>& prefsrc) = 0;
  virtual Expected<void, std::string> remove(const Prefix& prefix) = 0;
};


}  // namespace dialout
