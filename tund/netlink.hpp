// Configures the site's links, addresses, routes and proxy neighbours over
// rtnetlink (libmnl), so tund needs neither `ip` nor a shell. Every request
// asks for an ACK and the kernel's errno comes back as a message naming the
// operation, e.g. "add route 10.2.0.0/24 dev dl0: File exists".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace dialout {

// rtm_protocol of the routes we install, so they are recognisable
// (`ip route show proto 250`) and a restart finds and replaces its own.
inline constexpr uint8_t kRouteProtocolDialout = 250;

// What the kernel would do to send to one address (RTM_GETROUTE, like
// `ip route get`).
struct RouteLookup {
  int oif = 0;                   // outgoing interface
  std::optional<IpAddr> source;  // the source address it would choose (RTA_PREFSRC)
};

class Netlink {
 public:
  static Expected<Netlink, std::string> open();

  Expected<int, std::string> ifindex(const std::string& name);
  Expected<void, std::string> set_link(int ifindex, bool up, std::optional<unsigned> mtu);
  // The most segments the kernel puts in one superpacket for this link
  // (IFLA_GSO_MAX_SEGS, `ip link set DEV gso_max_segs N`); beyond it, it
  // segments in software before handing the packet to the device.
  Expected<void, std::string> set_gso_max_segs(int ifindex, unsigned segments);
  // addr_with_len is the host's own address, e.g. 10.255.0.1/32.
  Expected<void, std::string> add_address(int ifindex, const Prefix& addr_with_len);
  // An address with a shorter on-link prefix (10.1.0.7/24), which a
  // canonical Prefix cannot hold.
  Expected<void, std::string> add_address(int ifindex, const IpAddr& addr, unsigned prefix_len);
  // Unicast, scope link, protocol kRouteProtocolDialout, main table;
  // replaces an existing route so a restart is idempotent.
  // `prefsrc`: the source address the host uses for what it sends itself
  // along this route (RTA_PREFSRC); it must be a local address of the
  // route's family.
  Expected<void, std::string> add_route(int ifindex, const Prefix& prefix, unsigned metric,
                                        const std::optional<IpAddr>& prefsrc = std::nullopt);
  // Deletes only our own route; a missing one is not an error.
  Expected<void, std::string> del_route(int ifindex, const Prefix& prefix, unsigned metric);
  // Answer ARP/NDP for addr on ifindex (a remote laptop numbered inside this LAN).
  Expected<void, std::string> add_proxy_neighbour(int ifindex, const IpAddr& addr);
  Expected<void, std::string> del_proxy_neighbour(int ifindex, const IpAddr& addr);

  // Main-table routes out of ifindex with the given protocol, IPv4 and IPv6.
  Expected<std::vector<Prefix>, std::string> list_routes(int ifindex, uint8_t protocol);
  Expected<std::vector<IpAddr>, std::string> list_proxy_neighbours(int ifindex);

  // The kernel's route towards dst; nullopt when it has none (unreachable,
  // prohibited). Implemented in route_lookup.cpp.
  Expected<std::optional<RouteLookup>, std::string> lookup_route(const IpAddr& dst);
  // The local address the kernel would send from towards dst (the roaming
  // trigger: an event that leaves it unchanged is ignored); nullopt when
  // there is no route or no usable source address.
  Expected<std::optional<IpAddr>, std::string> route_source(const IpAddr& dst);

 private:
  struct SocketCloser {
    void operator()(mnl_socket* s) const;
  };

  Netlink() = default;
  // A failed exchange; kernel_errno is set when the kernel refused the request.
  struct Failure {
    int kernel_errno = 0;
    std::string message;
  };
  using MessageFn = int (*)(const nlmsghdr*, void*);
  // Sends request and reads replies with its sequence number until the ACK,
  // the error reply or the end of the dump; other messages go to on_message.
  Expected<void, Failure> exchange(nlmsghdr* request, std::string_view what, MessageFn on_message, void* ctx);
  // One request with NLM_F_ACK. Kernel errnos in ignore_a/ignore_b count as
  // success (e.g. "no such route" on delete).
  Expected<void, std::string> transact(nlmsghdr* request, std::string_view what, int ignore_a = 0, int ignore_b = 0);
  Expected<void, std::string> dump(nlmsghdr* request, std::string_view what, MessageFn on_message, void* ctx);
  std::string link_name(int ifindex) const;

  std::unique_ptr<mnl_socket, SocketCloser> socket_;
  unsigned portid_ = 0;
  unsigned seq_ = 0;
  std::vector<char> recv_buffer_;  // one dump-sized buffer, reused
};

}  // namespace dialout
