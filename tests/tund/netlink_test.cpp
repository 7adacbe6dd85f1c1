// Runs every case in a network namespace of its own: a thread unshares
// CLONE_NEWNET (namespaces are per thread), creates a TUN link there and
// drives Netlink against it. When the thread ends and its fds close, the
// namespace and everything in it disappear; nothing touches the host's.
#include "tund/netlink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "netlib/unique_fd.hpp"

namespace dialout {
namespace {

constexpr const char* kLink = "dlnl0";

bool have_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  auto has = [&](int cap) { return (data[cap / 32].effective >> (cap % 32)) & 1u; };
  return has(CAP_NET_ADMIN) && has(CAP_SYS_ADMIN);  // SYS_ADMIN for unshare(CLONE_NEWNET)
}

#define REQUIRE_CAPS() \
  if (!have_caps()) GTEST_SKIP() << "needs CAP_NET_ADMIN and CAP_SYS_ADMIN"

// Runs body(netlink, ifindex) on a fresh thread inside a fresh namespace
// that holds one TUN link named kLink.
void in_fresh_netns(const std::function<void(Netlink&, int)>& body) {
  std::thread worker([&] {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(tun.valid()) << std::strerror(errno);
    struct ifreq ifr {};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strcpy(ifr.ifr_name, kLink);
    ASSERT_EQ(::ioctl(tun.get(), TUNSETIFF, &ifr), 0) << std::strerror(errno);
    auto nl = Netlink::open();
    ASSERT_TRUE(nl) << nl.error();
    auto index = nl->ifindex(kLink);
    ASSERT_TRUE(index) << index.error();
    body(*nl, *index);
  });
  worker.join();
}

struct LinkState {
  bool up;
  int mtu;
};
LinkState link_state() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  struct ifreq ifr {};
  std::strcpy(ifr.ifr_name, kLink);
  EXPECT_EQ(::ioctl(s.get(), SIOCGIFFLAGS, &ifr), 0);
  bool up = ifr.ifr_flags & IFF_UP;
  EXPECT_EQ(::ioctl(s.get(), SIOCGIFMTU, &ifr), 0);
  return {up, ifr.ifr_mtu};
}

std::vector<std::string> addresses_on_link() {
  std::vector<std::string> out;
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (auto* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || std::strcmp(a->ifa_name, kLink) != 0) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    out.emplace_back(text);
  }
  ::freeifaddrs(list);
  std::sort(out.begin(), out.end());
  return out;
}

Prefix P(const char* text) { return *Prefix::parse(text); }
IpAddr A(const char* text) { return *IpAddr::parse(text); }

std::vector<Prefix> sorted_routes(Netlink& nl, int index, uint8_t protocol) {
  auto r = nl.list_routes(index, protocol);
  EXPECT_TRUE(r) << r.error();
  if (!r) return {};
  std::sort(r->begin(), r->end());
  return *r;
}

TEST(Netlink, IfindexOfUnknownLinkNamesIt) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    EXPECT_EQ(static_cast<unsigned>(index), ::if_nametoindex(kLink));
    auto missing = nl.ifindex("nosuchlink0");
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find("nosuchlink0"), std::string::npos) << missing.error();
  });
}

TEST(Netlink, LinkUpDownAndMtu) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    EXPECT_FALSE(link_state().up);
    ASSERT_TRUE(nl.set_link(index, true, 1400u));
    EXPECT_TRUE(link_state().up);
    EXPECT_EQ(link_state().mtu, 1400);
    ASSERT_TRUE(nl.set_link(index, true, std::nullopt));
    EXPECT_EQ(link_state().mtu, 1400);  // unchanged when not given
    ASSERT_TRUE(nl.set_link(index, false, 1500u));
    EXPECT_FALSE(link_state().up);
    EXPECT_EQ(link_state().mtu, 1500);
    auto bad = nl.set_link(index, true, 10u);  // below the minimum MTU
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("set link dlnl0 up mtu 10: "), std::string::npos) << bad.error();
  });
}

TEST(Netlink, AddressesIPv4AndIPv6AreIdempotent) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    ASSERT_TRUE(nl.set_link(index, true, std::nullopt));
    for (int round = 0; round < 2; ++round) {
      auto a = nl.add_address(index, A("10.9.0.1"), 24);
      ASSERT_TRUE(a) << a.error();
      auto b = nl.add_address(index, A("fd00:9::1"), 64);
      ASSERT_TRUE(b) << b.error();
      auto c = nl.add_address(index, P("10.255.0.1/32"));
      ASSERT_TRUE(c) << c.error();
    }
    auto addrs = addresses_on_link();
    for (const char* want : {"10.9.0.1", "10.255.0.1", "fd00:9::1"}) {
      EXPECT_EQ(std::count(addrs.begin(), addrs.end(), want), 1) << want;
    }
    auto bad = nl.add_address(index, A("10.9.0.2"), 33);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("add address 10.9.0.2/33 dev dlnl0"), std::string::npos) << bad.error();
  });
}

TEST(Netlink, RoutesAddReplaceListDelete) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    // IPv4 refuses routes through a link that is down: the error names it.
    auto down = nl.add_route(index, P("10.2.0.0/24"), 0);
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error(), "add route 10.2.0.0/24 dev dlnl0: Network is down");

    ASSERT_TRUE(nl.set_link(index, true, std::nullopt));
    ASSERT_TRUE(nl.add_address(index, A("10.9.0.1"), 24));
    const std::vector<Prefix> ours = {P("10.2.0.0/24"), P("10.3.0.0/16"), P("fd00:2::/64")};
    for (int round = 0; round < 2; ++round) {  // the second round replaces
      for (const auto& p : ours) {
        auto r = nl.add_route(index, p, p.len == 16 ? 5 : 0);
        ASSERT_TRUE(r) << r.error();
      }
    }
    EXPECT_EQ(sorted_routes(nl, index, kRouteProtocolDialout), ours);
    // The kernel's own connected route is not ours, and the filter sees that.
    auto kernel = sorted_routes(nl, index, RTPROT_KERNEL);
    EXPECT_NE(std::find(kernel.begin(), kernel.end(), P("10.9.0.0/24")), kernel.end());
    EXPECT_EQ(std::find(kernel.begin(), kernel.end(), P("10.2.0.0/24")), kernel.end());

    ASSERT_TRUE(nl.del_route(index, P("10.2.0.0/24"), 0));
    EXPECT_EQ(sorted_routes(nl, index, kRouteProtocolDialout),
              (std::vector<Prefix>{P("10.3.0.0/16"), P("fd00:2::/64")}));
    EXPECT_TRUE(nl.del_route(index, P("10.2.0.0/24"), 0));   // already gone: fine
    EXPECT_TRUE(nl.del_route(index, P("fd00:77::/64"), 0));  // never existed: fine
    // Only our protocol is deleted: the connected route survives.
    EXPECT_TRUE(nl.del_route(index, P("10.9.0.0/24"), 0));
    kernel = sorted_routes(nl, index, RTPROT_KERNEL);
    EXPECT_NE(std::find(kernel.begin(), kernel.end(), P("10.9.0.0/24")), kernel.end());
    ASSERT_TRUE(nl.del_route(index, P("10.3.0.0/16"), 5));
    ASSERT_TRUE(nl.del_route(index, P("fd00:2::/64"), 0));
    EXPECT_TRUE(sorted_routes(nl, index, kRouteProtocolDialout).empty());

    auto no_dev = nl.add_route(9999, P("10.2.0.0/24"), 0);
    ASSERT_FALSE(no_dev);
    EXPECT_EQ(no_dev.error(), "add route 10.2.0.0/24 dev ifindex 9999: No such device");
  });
}

// What the gateway itself sends along a route into the TUN device leaves
// from the route's preferred source (the address the far side accepts).
TEST(Netlink, RoutesCarryAPreferredSource) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    ASSERT_TRUE(nl.set_link(index, true, std::nullopt));
    ASSERT_TRUE(nl.add_address(index, A("10.9.0.1"), 24));
    ASSERT_TRUE(nl.add_address(index, A("10.1.0.254"), 32));
    ASSERT_TRUE(nl.add_route(index, P("10.2.0.0/24"), 50));
    auto plain = nl.route_source(A("10.2.0.5"));
    ASSERT_TRUE(plain) << plain.error();
    EXPECT_EQ(*plain, A("10.9.0.1")) << "without one, the kernel picks the primary address";
    auto with = nl.add_route(index, P("10.2.0.0/24"), 50, A("10.1.0.254"));  // replaced in place
    ASSERT_TRUE(with) << with.error();
    auto chosen = nl.route_source(A("10.2.0.5"));
    ASSERT_TRUE(chosen) << chosen.error();
    EXPECT_EQ(*chosen, A("10.1.0.254"));
    EXPECT_EQ(sorted_routes(nl, index, kRouteProtocolDialout), std::vector<Prefix>{P("10.2.0.0/24")});
    auto foreign = nl.add_route(index, P("10.3.0.0/24"), 50, A("10.77.0.1"));
    ASSERT_FALSE(foreign) << "a preferred source must be a local address";
    EXPECT_NE(foreign.error().find("add route 10.3.0.0/24 dev dlnl0 src 10.77.0.1: "), std::string::npos)
        << foreign.error();
  });
}

TEST(Netlink, ProxyNeighbours) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    ASSERT_TRUE(nl.set_link(index, true, std::nullopt));
    const std::vector<IpAddr> laptops = {A("10.9.0.77"), A("fd00:9::77")};
    for (int round = 0; round < 2; ++round) {
      for (const auto& a : laptops) {
        auto r = nl.add_proxy_neighbour(index, a);
        ASSERT_TRUE(r) << r.error();
      }
    }
    auto listed = nl.list_proxy_neighbours(index);
    ASSERT_TRUE(listed) << listed.error();
    std::sort(listed->begin(), listed->end());
    EXPECT_EQ(*listed, laptops);

    ASSERT_TRUE(nl.del_proxy_neighbour(index, laptops[0]));
    listed = nl.list_proxy_neighbours(index);
    ASSERT_TRUE(listed) << listed.error();
    EXPECT_EQ(*listed, std::vector<IpAddr>{laptops[1]});
    EXPECT_TRUE(nl.del_proxy_neighbour(index, laptops[0]));  // already gone: fine
    ASSERT_TRUE(nl.del_proxy_neighbour(index, laptops[1]));
    listed = nl.list_proxy_neighbours(index);
    ASSERT_TRUE(listed) << listed.error();
    EXPECT_TRUE(listed->empty());

    auto no_dev = nl.add_proxy_neighbour(9999, laptops[0]);
    ASSERT_FALSE(no_dev);
    EXPECT_NE(no_dev.error().find("add proxy neighbour 10.9.0.77 dev ifindex 9999: "), std::string::npos)
        << no_dev.error();
  });
}

// What `ip -d link show` reports for kLink, read in the calling thread's
// namespace (the child inherits it); empty when `ip` is missing.
std::string link_details() {
  std::string out;
  const std::string command = std::string("ip -d link show ") + kLink + " 2>/dev/null";
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[512];
  while (::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  ::pclose(p);
  return out;
}

TEST(Netlink, GsoMaxSegs) {
  REQUIRE_CAPS();
  in_fresh_netns([](Netlink& nl, int index) {
    auto no_dev = nl.set_gso_max_segs(9999, 64);
    ASSERT_FALSE(no_dev);
    EXPECT_NE(no_dev.error().find("set link ifindex 9999 gso_max_segs 64: "), std::string::npos) << no_dev.error();

    auto ok = nl.set_gso_max_segs(index, 64);
    ASSERT_TRUE(ok) << ok.error();
    auto details = link_details();
    if (details.empty()) GTEST_SKIP() << "no `ip` to read the setting back";
    EXPECT_NE(details.find("gso_max_segs 64 "), std::string::npos) << details;
  });
}

}  // namespace
}  // namespace dialout
