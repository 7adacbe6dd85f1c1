#include "tund/netlink_host_network.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include <fmt/format.h>

#include "tund/netlink_attr.hpp"

namespace dialout {
namespace {

// Netlink has no address removal; the engine needs it only when the
// intermediary hands out a different address (a rare event, so a socket of
// its own per call is fine).
Expected<void, std::string> delete_address(int ifindex, const Prefix& a) {
  auto what = fmt::format("delete address {} (ifindex {})", a.to_string(), ifindex);
  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC),
                                                               &mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return unexpected(fmt::format("{}: netlink socket: {}", what, std::strerror(errno)));
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_DELADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = 1;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = a.addr.family == Family::V4 ? AF_INET : AF_INET6;
  ifa->ifa_prefixlen = a.len;
  ifa->ifa_index = static_cast<unsigned>(ifindex);
  mnl_attr_put(nlh, IFA_LOCAL, a.addr.size(), a.addr.bytes.data());
  mnl_attr_put(nlh, IFA_ADDRESS, a.addr.size(), a.addr.bytes.data());
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
    return unexpected(fmt::format("{}: send: {}", what, std::strerror(errno)));
  ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
  if (n < 0) return unexpected(fmt::format("{}: receive: {}", what, std::strerror(errno)));
  int rc = mnl_cb_run(buf.data(), size_t(n), 1, mnl_socket_get_portid(nl.get()), nullptr, nullptr);
  // Already gone (the device went down, someone removed it): the wanted state.
  if (rc < 0 && errno != EADDRNOTAVAIL && errno != ENODEV)
    return unexpected(fmt::format("{}: {}", what, std::strerror(errno)));
  return {};
}

constexpr size_t kDumpBufferSize = 32768;  // libmnl's recommended dump buffer

struct AddressDump {
  int skip_ifindex;
  std::vector<Prefix> prefixes;
};

int on_address(const nlmsghdr* nlh, void* data) {
  auto* dump = static_cast<AddressDump*>(data);
  if (nlh->nlmsg_type != RTM_NEWADDR) return MNL_CB_OK;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (static_cast<int>(ifa->ifa_index) == dump->skip_ifindex) return MNL_CB_OK;
  // IFA_ADDRESS: the local address, or the peer's on a point-to-point link;
  // either way the network the kernel's connected route covers.
  std::array<const nlattr*, IFA_MAX + 1> tb{};
  if (mnl_attr_parse(nlh, sizeof(ifaddrmsg), netlink_attr::collect<IFA_MAX + 1>, &tb) < 0) return MNL_CB_ERROR;
  if (auto addr = netlink_attr::address(tb[IFA_ADDRESS], ifa->ifa_family))
    if (auto p = Prefix::make(*addr, ifa->ifa_prefixlen)) dump->prefixes.push_back(*p);
  return MNL_CB_OK;
}

// A socket of its own, like delete_address: asked once per route snapshot
// and network change, never on the data path.
Expected<std::vector<Prefix>, std::string> dump_addresses(int skip_ifindex) {
  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC),
                                                               &mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return unexpected(fmt::format("list addresses: netlink socket: {}", std::strerror(errno)));
  std::vector<char> buf(kDumpBufferSize);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_GETADDR;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = 1;
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_UNSPEC;
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
    return unexpected(fmt::format("list addresses: send: {}", std::strerror(errno)));
  AddressDump dump{skip_ifindex, {}};
  const unsigned portid = mnl_socket_get_portid(nl.get());
  while (true) {
    ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
    if (n < 0) return unexpected(fmt::format("list addresses: receive: {}", std::strerror(errno)));
    int rc = mnl_cb_run(buf.data(), size_t(n), 1, portid, on_address, &dump);
    if (rc == MNL_CB_STOP) break;
    if (rc < 0) return unexpected(fmt::format("list addresses: {}", std::strerror(errno)));
  }
  return dump.prefixes;
}

}  // namespace

NetlinkHostNetwork::NetlinkHostNetwork(Netlink& netlink, int tun_ifindex, std::optional<NetlinkMonitor> monitor)
    : netlink_(netlink), tun_ifindex_(tun_ifindex), monitor_(std::move(monitor)) {}

Expected<void, std::string> NetlinkHostNetwork::add_tun_address(const Prefix& address) {
  return netlink_.add_address(tun_ifindex_, address);
}

Expected<void, std::string> NetlinkHostNetwork::remove_tun_address(const Prefix& address) {
  return delete_address(tun_ifindex_, address);
}

Expected<int, std::string> NetlinkHostNetwork::lan_ifindex(const Prefix& lan, const IpAddr& inside) {
  if (auto it = lan_ifindexes_.find(lan); it != lan_ifindexes_.end()) return it->second;
  // The address itself first (its host route into the TUN is not in yet);
  // if that already points into the TUN, the LAN prefix's own address.
  auto oif = lan_interface_for(netlink_, inside);
  if (!oif || *oif == tun_ifindex_) oif = lan_interface_for(netlink_, lan.addr);
  if (!oif) return unexpected(fmt::format("no LAN interface for {}: {}", lan.to_string(), oif.error()));
  if (*oif == tun_ifindex_)
    return unexpected(fmt::format("{} is routed into the TUN device, not onto a LAN", lan.to_string()));
  lan_ifindexes_.emplace(lan, *oif);
  return *oif;
}

Expected<void, std::string> NetlinkHostNetwork::sync_proxy_neighbours(const std::map<IpAddr, Prefix>& wanted) {
  std::map<int, std::set<IpAddr>> per_interface;
  for (const auto& [ifindex, _] : neighbours_) per_interface[ifindex];  // so emptied ones are cleared
  std::string errors;
  auto note = [&](const std::string& e) { errors += (errors.empty() ? "" : "; ") + e; };
  for (const auto& [addr, lan] : wanted) {
    auto ifindex = lan_ifindex(lan, addr);
    if (!ifindex) {
      note(fmt::format("{}: {}", addr.to_string(), ifindex.error()));
      continue;
    }
    per_interface[*ifindex].insert(addr);
  }
  for (const auto& [ifindex, addrs] : per_interface) {
    auto it = neighbours_.find(ifindex);
    if (it == neighbours_.end()) {
      auto opened = ProxyNeighbours::open(ifindex);
      if (!opened) {
        note(opened.error());
        continue;
      }
      it = neighbours_.emplace(ifindex, std::move(*opened)).first;
    }
    if (auto ok = it->second.sync(addrs); !ok) note(ok.error());
  }
  if (!errors.empty()) return unexpected(errors);
  return {};
}

size_t NetlinkHostNetwork::proxy_neighbour_count() const {
  size_t n = 0;
  for (const auto& [_, p] : neighbours_) n += p.installed().size();
  return n;
}

bool NetlinkHostNetwork::drain_changes() {
  if (!monitor_) return false;
  auto events = monitor_->drain();
  // A broken monitor socket: say "changed" so the path is looked at once.
  return !events || events->any();
}

Expected<std::vector<Prefix>, std::string> NetlinkHostNetwork::connected_prefixes() {
  return dump_addresses(tun_ifindex_);
}

std::optional<IpAddr> NetlinkHostNetwork::route_source(const IpAddr& dst) {
  auto src = netlink_.route_source(dst);
  if (!src) return std::nullopt;
  return *src;
}

}  // namespace dialout
