#include "intermediary/forwarder.hpp"

#include "netlib/ip_packet.hpp"
#include "netlib/vnet_header.hpp"

namespace dialout {

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::Malformed: return "malformed datagram";
    case DropReason::SourceRouted: return "source-routed datagram (IPv4 LSRR/SSRR or IPv6 routing header)";
    case DropReason::BadOffloadHeader:
      return "offload header does not fit the datagram (checksum position or superpacket bounds)";
    case DropReason::SpoofedSource: return "inner source outside the sender's prefixes";
    case DropReason::NoRoute: return "no site serves the destination";
    case DropReason::Policy: return "destination not allowed by policy";
    case DropReason::Denied: return "denied by the sender's access rules";
  }
  return "unknown";
}

Expected<Forward, DropReason> decide_forward(const Registry& registry, const Policy& policy, const Site& sender,
                                             const PeerIdentity& who, const DataView& data) {
  auto info = parse_ip_packet(data.packet);
  if (!info && (info.error() == PacketError::SourceRoute || info.error() == PacketError::RoutingHeader))
    return unexpected(DropReason::SourceRouted);
  if (!info || info->total_len != data.packet.size()) return unexpected(DropReason::Malformed);
  if (!data.vnet.empty()) {
    auto vnet = VnetHeader::decode(data.vnet);
    if (!vnet || !vnet->validate(data.packet)) return unexpected(DropReason::BadOffloadHeader);
  }
  if (!registry.owns_source(sender.id, info->src)) return unexpected(DropReason::SpoofedSource);
  // The destination address decides; a destination id from the sender is
  // only a hint and must agree, so no site can be used to reach networks it
  // did not advertise.
  auto dst = registry.route(info->dst);
  if (!dst || *dst == sender.id || (data.header.dst != 0 && data.header.dst != *dst))
    return unexpected(DropReason::NoRoute);
  const Site* target = registry.site(*dst);
  if (target == nullptr) return unexpected(DropReason::NoRoute);
  if (!policy.may_reach(who, target->name)) return unexpected(DropReason::Policy);
  if (!policy.allows_packet(who, *info)) return unexpected(DropReason::Denied);
  return Forward{*dst, flow_hash(*info)};
}

}  // namespace dialout
