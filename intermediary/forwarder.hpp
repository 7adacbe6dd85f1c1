// The intermediary's per-datagram decision: where a DATA frame goes, or why
// it is dropped. Pure: registry and policy in, a decision out.
#pragma once

#include <cstdint>
#include <string_view>

#include "intermediary/registry.hpp"
#include "netlib/expected.hpp"
#include "netlib/peer_identity.hpp"
#include "netlib/policy.hpp"
#include "netlib/wire.hpp"

namespace dialout {

enum class DropReason : uint8_t {
  Malformed,      // not a valid IP datagram
  SpoofedSource,  // inner source outside the sender's prefixes
  NoRoute,        // no registered site serves the destination
  Policy,         // the sender's identity may not reach that site
  Denied,         // the sender's per-user/group allow rules do not cover it
};
const char* to_string(DropReason);

struct Forward {
  SiteId dst = 0;
  uint32_t flow_hash = 0;  // picks one of the destination's connections; keeps a flow in order
};

// `sender` is the authenticated site of the session the frame came in on,
// `who` the certificate identity behind it.
Expected<Forward, DropReason> decide_forward(const Registry& registry, const Policy& policy, const Site& sender,
                                             const PeerIdentity& who, const DataView& data);

}  // namespace dialout
