// The plain definition of a site's route table, one policy question per live
// site: what the relay computed per session before route pushes asked the
// policy per class (intermediary/reach_classes.hpp). Kept only as the
// reference reach_classes_test.cpp compares ReachClasses against.
#pragma once

#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"
#include "intermediary/registry.hpp"
#include "netlib/wire.hpp"

namespace dialout::reference {

// Every other live site `who` may reach, with its prefixes.
inline Routes route_snapshot(const Registry& registry, const Policy& policy, const PeerIdentity& who, SiteId self) {
  Routes routes;
  registry.for_each_site([&](const Site& site) {
    if (site.id != self && policy.may_reach(who, site.name))
      routes.entries.push_back(RouteEntry{site.id, site.name, site.prefixes});
  });
  return routes;
}

}  // namespace dialout::reference
