// NetlinkHostNetwork against the kernel, in a private namespace: lan0 (one
// end of a veth pair) carries the HQ LAN 10.60.0.0/24, a real TUN device
// tun0 gets assigned addresses and the laptops' host routes.
#include "tund/netlink_host_network.hpp"

#include <poll.h>

#include <set>

#include <gtest/gtest.h>

#include "tund/sysctl.hpp"
#include "tests/support/netns.hpp"
#include "tund/tun_device.hpp"

namespace dialout {
namespace {

using testing::in_fresh_netns;
using testing::run;
using testing::run_output;

IpAddr A(const char* t) { return *IpAddr::parse(t); }
Prefix P(const char* t) { return *Prefix::parse(t); }

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(NetlinkHostNetwork, AddressesProxyNeighboursChangesAndSource) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    ASSERT_TRUE(run({"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1"}));
    auto device = TunDevice::open(TunOptions{.name = "tun0", .vnet_hdr = false, .multi_queue = false, .queues = 1});
    ASSERT_TRUE(device) << device.error();
    for (const char* link : {"lan0", "lan1", "tun0"}) ASSERT_TRUE(run({"ip", "link", "set", link, "up"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "10.60.0.1/24", "dev", "lan0"}));
    auto netlink = Netlink::open();
    ASSERT_TRUE(netlink) << netlink.error();
    auto tun = netlink->ifindex("tun0");
    ASSERT_TRUE(tun);
    auto monitor = NetlinkMonitor::open({*tun});
    ASSERT_TRUE(monitor) << monitor.error();
    NetlinkHostNetwork host(*netlink, *tun, std::move(*monitor));

    // Assigned address on and off the TUN device; removing twice is fine.
    ASSERT_TRUE(host.add_tun_address(P("10.60.0.200/32")));
    EXPECT_NE(run_output({"ip", "-o", "addr", "show", "dev", "tun0"}).find("10.60.0.200/32"), std::string::npos);
    ASSERT_TRUE(host.remove_tun_address(P("10.60.0.200/32")));
    EXPECT_EQ(run_output({"ip", "-o", "addr", "show", "dev", "tun0"}).find("10.60.0.200"), std::string::npos);
    EXPECT_TRUE(host.remove_tun_address(P("10.60.0.200/32"))) << "already gone is the wanted state";
    EXPECT_FALSE(host.drain_changes()) << "changes on the TUN device are ours, not roaming";

    // Forwarding off: the error says why and nothing is proxied.
    ASSERT_TRUE(write_sysctl("net/ipv4/conf/lan0/forwarding", "0"));
    auto refused = host.sync_proxy_neighbours({{A("10.60.0.130"), P("10.60.0.0/24")}});
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find("forwarding"), std::string::npos) << refused.error();
    EXPECT_EQ(host.proxy_neighbour_count(), 0u);

    // Forwarding on: the entry goes on lan0, found before the host route
    // exists; a second laptop after a host route went into tun0 still
    // lands on lan0.
    ASSERT_TRUE(write_sysctl("net/ipv4/conf/lan0/forwarding", "1"));
    auto ok = host.sync_proxy_neighbours({{A("10.60.0.130"), P("10.60.0.0/24")}});
    ASSERT_TRUE(ok) << ok.error();
    ASSERT_TRUE(run({"ip", "route", "add", "10.60.0.130/32", "dev", "tun0"}));
    ok = host.sync_proxy_neighbours({{A("10.60.0.130"), P("10.60.0.0/24")}, {A("10.60.0.131"), P("10.60.0.0/24")}});
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_EQ(host.proxy_neighbour_count(), 2u);
    auto proxies = run_output({"ip", "neigh", "show", "proxy", "dev", "lan0"});
    EXPECT_NE(proxies.find("10.60.0.130"), std::string::npos) << proxies;
    EXPECT_NE(proxies.find("10.60.0.131"), std::string::npos) << proxies;
    ASSERT_TRUE(host.sync_proxy_neighbours({}));
    EXPECT_EQ(host.proxy_neighbour_count(), 0u);
    EXPECT_EQ(run_output({"ip", "neigh", "show", "proxy", "dev", "lan0"}).find("10.60.0."), std::string::npos);

    // Roaming inputs: a new LAN address is a change; the source follows.
    EXPECT_EQ(host.route_source(A("10.60.0.9")), A("10.60.0.1"));
    EXPECT_EQ(host.route_source(A("192.0.2.1")), std::nullopt) << "no default route here";
    (void)host.drain_changes();
    ASSERT_TRUE(run({"ip", "addr", "add", "10.61.0.1/24", "dev", "lan0"}));
    ASSERT_TRUE(readable(host.change_fd(), 2000));
    EXPECT_TRUE(host.drain_changes());
    EXPECT_EQ(host.route_source(A("10.61.0.9")), A("10.61.0.1"));
  });
}

// What learned routes are checked against: the networks of every address
// on the host, except the TUN device's own (its addresses are ours).
TEST(NetlinkHostNetwork, ConnectedPrefixesLeaveOutTheTunDevice) {
  REQUIRE_NETNS_CAPS();
  in_fresh_netns([] {
    ASSERT_TRUE(run({"ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1"}));
    auto device = TunDevice::open(TunOptions{.name = "tun0", .vnet_hdr = false, .multi_queue = false, .queues = 1});
    ASSERT_TRUE(device) << device.error();
    for (const char* link : {"lan0", "tun0"}) ASSERT_TRUE(run({"ip", "link", "set", link, "up"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "10.60.0.7/24", "dev", "lan0"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "192.0.2.1", "peer", "198.51.100.0/30", "dev", "lan0"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "fd60::7/64", "dev", "lan0", "nodad"}));
    ASSERT_TRUE(run({"ip", "addr", "add", "10.255.0.1/24", "dev", "tun0"}));
    auto netlink = Netlink::open();
    ASSERT_TRUE(netlink) << netlink.error();
    auto tun = netlink->ifindex("tun0");
    ASSERT_TRUE(tun);
    NetlinkHostNetwork host(*netlink, *tun, std::nullopt);
    auto connected = host.connected_prefixes();
    ASSERT_TRUE(connected) << connected.error();
    std::set<Prefix> got(connected->begin(), connected->end());
    for (const char* p : {"10.60.0.0/24", "198.51.100.0/30", "fd60::/64", "127.0.0.0/8", "::1/128"})
      EXPECT_EQ(got.count(P(p)), 1u) << p << " missing";
    EXPECT_EQ(got.count(P("10.255.0.0/24")), 0u) << "the TUN device's network is not a connected LAN";
  });
}

}  // namespace
}  // namespace dialout
