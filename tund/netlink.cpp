#include "tund/netlink.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tund/netlink_attr.hpp"

namespace dialout {
namespace {

constexpr size_t kRequestSize = 512;       // our requests hold a header and a few attributes
constexpr size_t kReceiveSize = 32768;     // libmnl's recommended dump buffer
constexpr int kMaxReads = 100000;          // bounds a dump even if the kernel misbehaves
constexpr time_t kReplyTimeoutSeconds = 5;  // the kernel answers at once; never hang the daemon

using netlink_attr::family_of;

struct RouteFilter {
  int ifindex;
  uint8_t protocol;
  std::vector<Prefix>* out;
};

int on_route(const nlmsghdr* nlh, void* ctx) {
  auto& f = *static_cast<RouteFilter*>(ctx);
  if (nlh->nlmsg_type != RTM_NEWROUTE || mnl_nlmsg_get_payload_len(nlh) < sizeof(rtmsg)) return MNL_CB_OK;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  if (rtm->rtm_protocol != f.protocol || rtm->rtm_type != RTN_UNICAST) return MNL_CB_OK;
  std::array<const nlattr*, RTA_MAX + 1> tb{};
  if (mnl_attr_parse(nlh, sizeof(rtmsg), netlink_attr::collect<RTA_MAX + 1>, &tb) < 0) return MNL_CB_ERROR;
  uint32_t table = rtm->rtm_table, oif = 0;
  netlink_attr::u32(tb[RTA_TABLE], table);
  if (table != RT_TABLE_MAIN || !netlink_attr::u32(tb[RTA_OIF], oif) || oif != static_cast<uint32_t>(f.ifindex)) {
    return MNL_CB_OK;
  }
  IpAddr dst;
  dst.family = rtm->rtm_family == AF_INET ? Family::V4 : Family::V6;
  if (tb[RTA_DST]) {
    auto a = netlink_attr::address(tb[RTA_DST], rtm->rtm_family);
    if (!a) return MNL_CB_ERROR;
    dst = *a;
  }
  if (auto p = Prefix::make(dst, rtm->rtm_dst_len)) f.out->push_back(*p);
  return MNL_CB_OK;
}

struct NeighbourFilter {
  int ifindex;
  std::vector<IpAddr>* out;
};

int on_neighbour(const nlmsghdr* nlh, void* ctx) {
  auto& f = *static_cast<NeighbourFilter*>(ctx);
  if (nlh->nlmsg_type != RTM_NEWNEIGH || mnl_nlmsg_get_payload_len(nlh) < sizeof(ndmsg)) return MNL_CB_OK;
  const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  if (!(ndm->ndm_flags & NTF_PROXY) || ndm->ndm_ifindex != f.ifindex) return MNL_CB_OK;
  std::array<const nlattr*, NDA_MAX + 1> tb{};
  if (mnl_attr_parse(nlh, sizeof(ndmsg), netlink_attr::collect<NDA_MAX + 1>, &tb) < 0) return MNL_CB_ERROR;
  if (tb[NDA_DST]) {
    if (auto a = netlink_attr::address(tb[NDA_DST], ndm->ndm_family)) f.out->push_back(*a);
  }
  return MNL_CB_OK;
}

}  // namespace

void Netlink::SocketCloser::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Expected<Netlink, std::string> Netlink::open() {
  Netlink nl;
  nl.socket_.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC));
  if (!nl.socket_) return unexpected(fmt::format("netlink: socket: {}", std::strerror(errno)));
  if (mnl_socket_bind(nl.socket_.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return unexpected(fmt::format("netlink: bind: {}", std::strerror(errno)));
  }
  // Error replies need not echo our request back.
  int one = 1;
  (void)mnl_socket_setsockopt(nl.socket_.get(), NETLINK_CAP_ACK, &one, sizeof one);
  struct timeval tv {kReplyTimeoutSeconds, 0};
  if (setsockopt(mnl_socket_get_fd(nl.socket_.get()), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
    return unexpected(fmt::format("netlink: SO_RCVTIMEO: {}", std::strerror(errno)));
  }
  nl.portid_ = mnl_socket_get_portid(nl.socket_.get());
  nl.recv_buffer_.resize(kReceiveSize);
  return nl;
}

std::string Netlink::link_name(int ifindex) const {
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) != nullptr) return name;
  return fmt::format("ifindex {}", ifindex);
}

Expected<void, Netlink::Failure> Netlink::exchange(nlmsghdr* request, std::string_view what, MessageFn on_message,
                                                   void* ctx) {
  auto fail = [&](int kernel_errno, std::string_view why) {
    return unexpected(Failure{kernel_errno, fmt::format("{}: {}", what, why)});
  };
  request->nlmsg_flags |= NLM_F_REQUEST;
  request->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(socket_.get(), request, request->nlmsg_len) < 0) {
    return fail(0, fmt::format("send: {}", std::strerror(errno)));
  }
  for (int reads = 0; reads < kMaxReads; ++reads) {
    ssize_t n = mnl_socket_recvfrom(socket_.get(), recv_buffer_.data(), recv_buffer_.size());
    if (n < 0) return fail(0, fmt::format("receive: {}", std::strerror(errno)));
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(recv_buffer_.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      // A reply to an earlier request that timed out: not ours to judge.
      if (nlh->nlmsg_seq != request->nlmsg_seq || nlh->nlmsg_pid != portid_) continue;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) return fail(0, "truncated netlink error");
        int err = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        if (err == 0) return {};
        return fail(err, std::strerror(err));
      }
      if (nlh->nlmsg_type == NLMSG_DONE) {
        if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
          int err = -*static_cast<const int*>(mnl_nlmsg_get_payload(nlh));
          if (err > 0) return fail(err, std::strerror(err));
        }
        return {};
      }
      if (on_message != nullptr && on_message(nlh, ctx) < 0) return fail(0, "malformed reply");
    }
  }
  return fail(0, "reply never ended");
}

Expected<void, std::string> Netlink::transact(nlmsghdr* request, std::string_view what, int ignore_a, int ignore_b) {
  request->nlmsg_flags |= NLM_F_ACK;
  auto r = exchange(request, what, nullptr, nullptr);
  if (r) return {};
  const int err = r.error().kernel_errno;
  if (err != 0 && (err == ignore_a || err == ignore_b)) return {};
  return unexpected(r.error().message);
}

Expected<void, std::string> Netlink::dump(nlmsghdr* request, std::string_view what, MessageFn on_message,
                                          void* ctx) {
  auto r = exchange(request, what, on_message, ctx);
  if (r) return {};
  return unexpected(r.error().message);
}

Expected<int, std::string> Netlink::ifindex(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return unexpected(fmt::format("interface {}: {}", name, std::strerror(errno)));
  return static_cast<int>(idx);
}

Expected<void, std::string> Netlink::set_link(int ifindex, bool up, std::optional<unsigned> mtu) {
  std::array<char, kRequestSize> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = up ? IFF_UP : 0;
  if (mtu) mnl_attr_put_u32(nlh, IFLA_MTU, *mtu);
  auto what = fmt::format("set link {} {}", link_name(ifindex), up ? "up" : "down");
  if (mtu) what += fmt::format(" mtu {}", *mtu);
  return transact(nlh, what);
}

Expected<void, std::string> Netlink::set_gso_max_segs(int ifindex, unsigned segments) {
  std::array<char, kRequestSize> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWLINK;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, segments);
  return transact(nlh, fmt::format("set link {} gso_max_segs {}", link_name(ifindex), segments));
}

Expected<void, std::string> Netlink::add_address(int ifindex, const Prefix& addr_with_len) {
  return add_address(ifindex, addr_with_len.addr, addr_with_len.len);
}

Expected<void, std::string> Netlink::add_address(int ifindex, const IpAddr& addr, unsigned prefix_len) {
  auto what = fmt::format("add address {}/{} dev {}", addr.to_string(), prefix_len, link_name(ifindex));
  if (prefix_len > addr.max_prefix_len()) return unexpected(what + ": prefix length too long");
  std::array<char, kRequestSize> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWADDR;
  nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = static_cast<uint8_t>(family_of(addr));
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefix_len);
  // No duplicate address detection: the address is ours by configuration
  // and must be usable at once, not after a DAD delay.
  ifa->ifa_flags = IFA_F_NODAD;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  mnl_attr_put(nlh, IFA_LOCAL, addr.size(), addr.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, addr.size(), addr.bytes.data());
  return transact(nlh, what);
}

namespace {

nlmsghdr* put_route(std::array<char, kRequestSize>& buf, uint16_t type, uint16_t flags, int ifindex,
                    const Prefix& prefix, unsigned metric, unsigned char scope) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = static_cast<uint8_t>(family_of(prefix.addr));
  rtm->rtm_dst_len = prefix.len;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = kRouteProtocolDialout;
  rtm->rtm_scope = scope;
  rtm->rtm_type = RTN_UNICAST;
  if (prefix.len > 0) mnl_attr_put(nlh, RTA_DST, prefix.addr.size(), prefix.addr.bytes.data());
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
  if (metric != 0) mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
  return nlh;
}

std::string with_source(const std::optional<IpAddr>& prefsrc) {
  return prefsrc ? " src " + prefsrc->to_string() : std::string();
}

}  // namespace

Expected<void, std::string> Netlink::add_route(int ifindex, const Prefix& prefix, unsigned metric,
                                               const std::optional<IpAddr>& prefsrc) {
  std::array<char, kRequestSize> buf{};
  auto* nlh = put_route(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifindex, prefix, metric, RT_SCOPE_LINK);
  if (prefsrc) mnl_attr_put(nlh, RTA_PREFSRC, prefsrc->size(), prefsrc->bytes.data());
  return transact(nlh, fmt::format("add route {} dev {}{}", prefix.to_string(), link_name(ifindex), with_source(prefsrc)));
}

Expected<void, std::string> Netlink::del_route(int ifindex, const Prefix& prefix, unsigned metric) {
  std::array<char, kRequestSize> buf{};
  // Scope "nowhere" matches any scope; the protocol field limits the
  // delete to routes we installed.
  auto* nlh = put_route(buf, RTM_DELROUTE, 0, ifindex, prefix, metric, RT_SCOPE_NOWHERE);
  return transact(nlh, fmt::format("del route {} dev {}", prefix.to_string(), link_name(ifindex)), ESRCH, ENOENT);
}

namespace {

nlmsghdr* put_proxy_neighbour(std::array<char, kRequestSize>& buf, uint16_t type, uint16_t flags, int ifindex,
                              const IpAddr& addr) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = flags;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = static_cast<uint8_t>(family_of(addr));
  ndm->ndm_ifindex = ifindex;
  ndm->ndm_state = NUD_PERMANENT;
  ndm->ndm_flags = NTF_PROXY;
  mnl_attr_put(nlh, NDA_DST, addr.size(), addr.bytes.data());
  return nlh;
}

}  // namespace

Expected<void, std::string> Netlink::add_proxy_neighbour(int ifindex, const IpAddr& addr) {
  std::array<char, kRequestSize> buf{};
  auto* nlh = put_proxy_neighbour(buf, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr);
  return transact(nlh, fmt::format("add proxy neighbour {} dev {}", addr.to_string(), link_name(ifindex)));
}

Expected<void, std::string> Netlink::del_proxy_neighbour(int ifindex, const IpAddr& addr) {
  std::array<char, kRequestSize> buf{};
  auto* nlh = put_proxy_neighbour(buf, RTM_DELNEIGH, 0, ifindex, addr);
  return transact(nlh, fmt::format("del proxy neighbour {} dev {}", addr.to_string(), link_name(ifindex)), ENOENT);
}

Expected<std::vector<Prefix>, std::string> Netlink::list_routes(int ifindex, uint8_t protocol) {
  std::array<char, kRequestSize> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETROUTE;
  nlh->nlmsg_flags = NLM_F_DUMP;
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = AF_UNSPEC;
  std::vector<Prefix> routes;
  RouteFilter filter{ifindex, protocol, &routes};
  auto r = dump(nlh, fmt::format("list routes dev {}", link_name(ifindex)), on_route, &filter);
  if (!r) return unexpected(r.error());
  return routes;
}

Expected<std::vector<IpAddr>, std::string> Netlink::list_proxy_neighbours(int ifindex) {
  std::array<char, kRequestSize> buf{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETNEIGH;
  nlh->nlmsg_flags = NLM_F_DUMP;
  auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
  ndm->ndm_family = AF_UNSPEC;
  ndm->ndm_flags = NTF_PROXY;  // the kernel dumps the proxy table for exactly this flag
  std::vector<IpAddr> neighbours;
  NeighbourFilter filter{ifindex, &neighbours};
  auto r = dump(nlh, fmt::format("list proxy neighbours dev {}", link_name(ifindex)), on_neighbour, &filter);
  if (!r) return unexpected(r.error());
  return neighbours;
}

}  // namespace dialout
