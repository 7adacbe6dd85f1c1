#include "tund/netlink_monitor.hpp"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tund/netlink_attr.hpp"

namespace dialout {
namespace {

// Big enough for any single notification (they are small; MSG_TRUNC would
// otherwise lose one).
constexpr size_t kBufferSize = 32768;
// A larger socket buffer makes overruns rare during bursts (an uplink
// going away withdraws many routes at once).
constexpr int kSocketBuffer = 1 << 20;
// Bounds one drain so a storm of notifications cannot starve the event loop;
// what remains is read on the next readiness callback.
constexpr int kMaxReadsPerDrain = 1024;

constexpr unsigned kGroups =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

struct Summary {
  const std::set<int>* ignored;
  MonitorEvents* events;

  // Records a change on ifindex unless it is ignored; returns whether it counted.
  bool note(int ifindex) {
    if (ignored->count(ifindex) != 0) return false;
    events->ifindexes.push_back(ifindex);
    return true;
  }
};

int route_oif(const nlmsghdr* nlh) {
  std::array<const nlattr*, RTA_MAX + 1> tb{};
  if (mnl_attr_parse(nlh, sizeof(rtmsg), netlink_attr::collect<RTA_MAX + 1>, &tb) < 0) return 0;
  uint32_t oif = 0;
  netlink_attr::u32(tb[RTA_OIF], oif);
  return static_cast<int>(oif);
}

// Malformed notifications are skipped, not fatal: the kernel is trusted, and
// a wrong guess costs at most one route_source() lookup.
int on_notification(const nlmsghdr* nlh, void* ctx) {
  auto& s = *static_cast<Summary*>(ctx);
  const size_t payload = mnl_nlmsg_get_payload_len(nlh);
  switch (nlh->nlmsg_type) {
    case RTM_NEWADDR:
    case RTM_DELADDR:
      if (payload < sizeof(ifaddrmsg)) break;
      if (s.note(static_cast<int>(static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh))->ifa_index))) {
        s.events->addresses_changed = true;
      }
      break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      if (payload < sizeof(rtmsg)) break;
      if (s.note(route_oif(nlh))) s.events->routes_changed = true;
      break;
    case RTM_NEWLINK:
    case RTM_DELLINK:
      if (payload < sizeof(ifinfomsg)) break;
      if (s.note(static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index)) {
        s.events->links_changed = true;
      }
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

}  // namespace

void NetlinkMonitor::SocketCloser::operator()(mnl_socket* s) const { mnl_socket_close(s); }

Expected<NetlinkMonitor, std::string> NetlinkMonitor::open(std::set<int> ignored_ifindexes) {
  NetlinkMonitor m;
  m.socket_.reset(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!m.socket_) return unexpected(fmt::format("netlink monitor: socket: {}", std::strerror(errno)));
  const int fd = mnl_socket_get_fd(m.socket_.get());
  // FORCE needs CAP_NET_ADMIN, which tund has; the plain option is the
  // fallback (capped by net.core.rmem_max).
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kSocketBuffer, sizeof kSocketBuffer) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  }
  if (mnl_socket_bind(m.socket_.get(), kGroups, MNL_SOCKET_AUTOPID) < 0) {
    return unexpected(fmt::format("netlink monitor: bind: {}", std::strerror(errno)));
  }
  m.ignored_ = std::move(ignored_ifindexes);
  m.buffer_.resize(kBufferSize);
  return m;
}

int NetlinkMonitor::fd() const { return mnl_socket_get_fd(socket_.get()); }

Expected<MonitorEvents, std::string> NetlinkMonitor::drain() {
  MonitorEvents events;
  Summary summary{&ignored_, &events};
  for (int reads = 0; reads < kMaxReadsPerDrain; ++reads) {
    ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        // The socket's queue overflowed and notifications were lost; the
        // error is reported once and the socket keeps working.
        events.overrun = true;
        continue;
      }
      return unexpected(fmt::format("netlink monitor: receive: {}", std::strerror(errno)));
    }
    // Runs every message in the datagram; seq/portid 0 accept notifications.
    (void)mnl_cb_run(buffer_.data(), static_cast<size_t>(n), 0, 0, on_notification, &summary);
  }
  if (events.overrun) {
    events.addresses_changed = events.routes_changed = events.links_changed = true;
  }
  std::sort(events.ifindexes.begin(), events.ifindexes.end());
  events.ifindexes.erase(std::unique(events.ifindexes.begin(), events.ifindexes.end()), events.ifindexes.end());
  return events;
}

}  // namespace dialout
