// ProxyNeighbours against the kernel: namespace A is the HQ tund host
// (lan0, and a TUN device the laptop's address is routed into), namespace
// B a host on the HQ LAN (lan1). B resolves the laptop's address; the
// answer must be A's MAC while the entry exists, and nothing after clear().
//
//   [B: lan1 10.50.0.2/24 fd50::2/64] ==veth== [A: lan0 10.50.0.1/24 fd50::1/64]--dlpn0 (TUN)
//                                               laptop 10.50.0.77, fd50::77 routed into the TUN
#include "tund/proxy_neighbours.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tund/subprocess.hpp"
#include "tund/sysctl.hpp"
#include "tests/support/netns.hpp"
#include "tund/tun_device.hpp"

namespace dialout {
namespace {

using testing::in_fresh_netns;
using testing::NetnsPair;
using testing::run;
using testing::run_output;

IpAddr A(const char* text) { return *IpAddr::parse(text); }

std::string mac_of(const char* ifname) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  struct ifreq ifr {};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  if (::ioctl(s.get(), SIOCGIFHWADDR, &ifr) != 0) return "?";
  const auto* m = reinterpret_cast<const unsigned char*>(ifr.ifr_hwaddr.sa_data);
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

// From namespace B: pings addr once (which makes B resolve it) and watches
// B's neighbour entry for mac, for at most 2 s. The kernel delays proxy
// answers by up to proxy_delay (0.8 s), so a missing entry is only trusted
// after that.
bool resolves_to(const IpAddr& addr, const std::string& mac) {
  const char* family = addr.family == Family::V4 ? "-4" : "-6";
  (void)run_process({"ping", family, "-c", "1", "-W", "1", addr.to_string()}, "", std::chrono::seconds(3));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  do {
    auto neigh = run_output({"ip", family, "neigh", "show", addr.to_string(), "dev", "lan1"});
    if (neigh.find("lladdr " + mac) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

TEST(ProxyNeighbours, LanHostsResolveTheLaptopToUsUntilCleared) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    NetnsPair ns;
    ASSERT_TRUE(ns.valid());
    for (int side = 0; side < 2; ++side) {  // skip DAD so addresses work at once
      side == 0 ? ns.enter_a() : ns.enter_b();
      ASSERT_TRUE(write_sysctl("net/ipv6/conf/default/accept_dad", "0"));
    }
    ns.enter_a();
    ASSERT_TRUE(run({"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1"}));
    ASSERT_TRUE(run({"ip", "link", "set", "lan1", "netns", ns.b_path()}));
    ASSERT_TRUE(run({"ip", "addr", "add", "10.50.0.1/24", "dev", "lan0"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "fd50::1/64", "dev", "lan0"}));
    ASSERT_TRUE(run({"ip", "link", "set", "lan0", "up"}));
    ns.enter_b();
    ASSERT_TRUE(run({"ip", "addr", "add", "10.50.0.2/24", "dev", "lan1"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "fd50::2/64", "dev", "lan1"}));
    ASSERT_TRUE(run({"ip", "link", "set", "lan1", "up"}));
    ns.enter_a();

    const IpAddr laptop4 = A("10.50.0.77"), laptop6 = A("fd50::77");
    auto nl = Netlink::open();
    ASSERT_TRUE(nl) << nl.error();
    const int lan0 = static_cast<int>(::if_nametoindex("lan0"));
    auto lan = lan_interface_for(*nl, laptop4);
    ASSERT_TRUE(lan) << lan.error();
    EXPECT_EQ(*lan, lan0);
    EXPECT_FALSE(lan_interface_for(*nl, A("192.0.2.1")));  // no default route here

    auto tun = TunDevice::open({.name = "dlpn0"});
    ASSERT_TRUE(tun) << tun.error();
    ASSERT_TRUE(run({"ip", "link", "set", "dlpn0", "up"}));
    ASSERT_TRUE(run({"ip", "route", "add", "10.50.0.77/32", "dev", "dlpn0"}));
    ASSERT_TRUE(run({"ip", "route", "add", "fd50::77/128", "dev", "dlpn0"}));

    auto proxy = ProxyNeighbours::open(lan0);
    ASSERT_TRUE(proxy) << proxy.error();
    EXPECT_EQ(proxy->interface_name(), "lan0");

    // Forwarding is off in a new namespace: refused with the reason, per family.
    auto refused = proxy->sync({laptop4, laptop6});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find("10.50.0.77 not proxied: proxy ARP on lan0 needs forwarding, but "
                                   "net/ipv4/conf/lan0/forwarding is 0"),
              std::string::npos)
        << refused.error();
    EXPECT_NE(refused.error().find("fd50::77 not proxied: proxy NDP"), std::string::npos) << refused.error();
    EXPECT_TRUE(proxy->installed().empty());

    ASSERT_TRUE(write_sysctl("net/ipv4/ip_forward", "1"));
    ASSERT_TRUE(write_sysctl("net/ipv6/conf/all/forwarding", "1"));
    EXPECT_EQ(*read_sysctl("net/ipv6/conf/lan0/proxy_ndp"), "0");
    for (int round = 0; round < 2; ++round) {  // a repeated sync changes nothing
      auto synced = proxy->sync({laptop4, laptop6});
      ASSERT_TRUE(synced) << synced.error();
    }
    EXPECT_EQ(proxy->installed(), (std::set<IpAddr>{laptop4, laptop6}));
    EXPECT_EQ(*read_sysctl("net/ipv6/conf/lan0/proxy_ndp"), "1");
    auto listed = nl->list_proxy_neighbours(lan0);
    ASSERT_TRUE(listed) << listed.error();
    EXPECT_EQ(listed->size(), 2u);

    const std::string mac = mac_of("lan0");
    ns.enter_b();
    EXPECT_TRUE(resolves_to(laptop4, mac)) << mac;
    EXPECT_TRUE(resolves_to(laptop6, mac)) << mac;
    ns.enter_a();

    // The laptop (IPv6 side) leaves: only its entry goes.
    ASSERT_TRUE(proxy->sync({laptop4}));
    listed = nl->list_proxy_neighbours(lan0);
    ASSERT_TRUE(listed) << listed.error();
    EXPECT_EQ(*listed, std::vector<IpAddr>{laptop4});

    ASSERT_TRUE(proxy->clear());
    EXPECT_TRUE(proxy->installed().empty());
    EXPECT_EQ(*read_sysctl("net/ipv6/conf/lan0/proxy_ndp"), "0");  // restored
    listed = nl->list_proxy_neighbours(lan0);
    ASSERT_TRUE(listed) << listed.error();
    EXPECT_TRUE(listed->empty());

    ns.enter_b();
    ASSERT_TRUE(run({"ip", "neigh", "flush", "dev", "lan1"}));
    EXPECT_FALSE(resolves_to(laptop4, mac));
    EXPECT_FALSE(resolves_to(laptop6, mac));
    ns.enter_a();
  });
}

}  // namespace
}  // namespace dialout
