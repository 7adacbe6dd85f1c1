#include "intermediary/route_snapshot.hpp"

namespace dialout {

Routes route_snapshot(const Registry& registry, const Policy& policy, const PeerIdentity& who, SiteId self) {
  Routes routes;
  registry.for_each_site([&](const Site& site) {
    if (site.id != self && policy.may_reach(who, site.name))
      routes.entries.push_back(RouteEntry{site.id, site.name, site.prefixes});
  });
  return routes;
}

Expected<void, WireError> encode_route_snapshot(const Registry& registry, const Policy& policy,
                                                const PeerIdentity& who, SiteId self, std::vector<uint8_t>& out) {
  return encode(route_snapshot(registry, policy, who, self), out);
}

}  // namespace dialout
