// The intermediary's per-datagram decision: where a DATA frame goes, or why
// it is dropped. Pure: registry and policy in, a decision out.
#pragma once

#include <cstdint>
#include <string_view>

#include "intermediary/registry.hpp"
#include "netlib/expected.hpp"
#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"
#include "netlib/wire.hpp"

namespace dialout {

enum class DropReason : uint8_t {
  Malformed,         // not a valid IP datagram
  SourceRouted,      // IPv4 LSRR/SSRR option or IPv6 routing header: hops policy never judged
  BadOffloadHeader,  // the offload header does not fit the datagram or exceeds the segment bounds
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
// `who` the certificate identity behind it. A frame's offload header is
// validated against its datagram here, because the receiver (its kernel or
// tund) acts on it only after this decision: a checksum position other than
// the TCP/UDP checksum field would rewrite the datagram after policy.
Expected<Forward, DropReason> decide_forward(const Registry& registry, const Policy& policy, const Site& sender,
                                             const PeerIdentity& who, const DataView& data);

}  // namespace dialout
