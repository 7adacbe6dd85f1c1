#include "tund/netlink_route_installer.hpp"

namespace dialout {
namespace {
// Not 0: an administrator's own route for the same prefix (metric 0) wins,
// so the tunnel never silently overrides a deliberate local choice.
constexpr unsigned kRouteMetric = 50;
}  // namespace

Expected<void, std::string> NetlinkRouteInstaller::add(const Prefix& prefix, const std::optional<IpAddr>& prefsrc) {
  return netlink_.add_route(ifindex_, prefix, kRouteMetric, prefsrc);
}

Expected<void, std::string> NetlinkRouteInstaller::remove(const Prefix& prefix) {
  return netlink_.del_route(ifindex_, prefix, kRouteMetric);
}

}  // namespace dialout
