#include "router/router.hpp"

#include "netlib/ip_packet.hpp"

namespace dialout {

RouteAction Router::route(std::span<uint8_t> whole) const {
  RouteAction a;
  if (vnet_ && whole.size() < kVnetHeaderSize) return a;
  a.packet = vnet_ ? whole.subspan(kVnetHeaderSize) : whole;
  auto info = parse_ip_packet(a.packet);
  if (!info) {
    a.why = to_string(info.error());
    return a;
  }
  if (!enabled_) return a;
  auto dst = routes_ != nullptr ? routes_->lookup(info->dst) : std::nullopt;
  if (!dst) {
    a.kind = RouteAction::Kind::DropNoRoute;
    return a;
  }
  a.dst = *dst;
  a.flow = flow_hash(*info);
  if (vnet_) {
    // decode() only needs the 10 bytes checked above.
    a.header = *VnetHeader::decode(whole);
    if (!a.header.validate(a.packet)) {
      a.kind = RouteAction::Kind::FinishHere;
      return a;
    }
  }
  a.kind = RouteAction::Kind::Send;
  a.lane = lane_for_datagram(a.packet.size());
  a.flags = vnet_ ? kDataVnet : 0;
  return a;
}

}  // namespace dialout
