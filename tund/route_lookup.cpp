// Netlink::lookup_route / route_source: one RTM_GETROUTE for a host
// address, answered with the route the kernel would use, including the
// source address it would choose, exactly as `ip route get` shows it.
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "tund/netlink.hpp"
#include "tund/netlink_attr.hpp"

namespace dialout {
namespace {

constexpr size_t kRequestSize = 512;

struct LookupReply {
  bool seen = false;
  bool malformed = false;
  RouteLookup route;
};

int on_lookup_reply(const nlmsghdr* nlh, void* ctx) {
  auto& reply = *static_cast<LookupReply*>(ctx);
  if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) return MNL_CB_OK;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  std::array<const nlattr*, RTA_MAX + 1> tb{};
  if (mnl_attr_parse(nlh, sizeof(rtmsg), netlink_attr::collect<RTA_MAX + 1>, &tb) < 0) {
    reply.malformed = true;
    return MNL_CB_ERROR;
  }
  uint32_t oif = 0;
  netlink_attr::u32(tb[RTA_OIF], oif);
  reply.route.oif = static_cast<int>(oif);
  if (tb[RTA_PREFSRC] != nullptr) {
    reply.route.source = netlink_attr::address(tb[RTA_PREFSRC], rtm->rtm_family);
    if (!reply.route.source) {
      reply.malformed = true;
      return MNL_CB_ERROR;
    }
  }
  reply.seen = true;
  return MNL_CB_OK;
}

}  // namespace

Expected<std::optional<RouteLookup>, std::string> Netlink::lookup_route(const IpAddr& dst) {
  std::array<char, kRequestSize> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  // Without a dump flag the kernel answers with one route; the ACK that
  // follows ends the exchange.
  nlh->nlmsg_flags = NLM_F_ACK;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(netlink_attr::family_of(dst));
  rtm->rtm_dst_len = static_cast<unsigned char>(dst.max_prefix_len());
  mnl_attr_put(nlh, RTA_DST, dst.size(), dst.bytes.data());

  LookupReply reply;
  auto r = exchange(nlh, fmt::format("route get {}", dst.to_string()), on_lookup_reply, &reply);
  if (!r) {
    const int err = r.error().kernel_errno;
    if (err == ENETUNREACH || err == EHOSTUNREACH || err == EACCES || err == EINVAL) {
      return std::optional<RouteLookup>();  // unreachable, prohibit, blackhole routes
    }
    return unexpected(r.error().message);
  }
  if (!reply.seen) return unexpected(fmt::format("route get {}: no route in the reply", dst.to_string()));
  return std::optional<RouteLookup>(reply.route);
}

Expected<std::optional<IpAddr>, std::string> Netlink::route_source(const IpAddr& dst) {
  auto route = lookup_route(dst);
  if (!route) return unexpected(route.error());
  if (!route->has_value()) return std::optional<IpAddr>();
  return (*route)->source;
}

}  // namespace dialout
