// What a site is told in ROUTES: every other live site its identity may
// reach, with that site's prefixes. Always the full set (not a delta), so a
// lost or reordered update can never leave a stale route behind. Pure.
#pragma once

#include <vector>

#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"
#include "intermediary/registry.hpp"
#include "netlib/expected.hpp"
#include "netlib/wire.hpp"

namespace dialout {

Routes route_snapshot(const Registry& registry, const Policy& policy, const PeerIdentity& who, SiteId self);

// The ROUTES frame for it, appended to `out`; fails when it does not fit one frame.
Expected<void, WireError> encode_route_snapshot(const Registry& registry, const Policy& policy,
                                                const PeerIdentity& who, SiteId self, std::vector<uint8_t>& out);

}  // namespace dialout
