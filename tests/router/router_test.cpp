#include "router/router.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "netlib/ip_packet.hpp"
#include "tests/support/offload_packets.hpp"
#include "tests/support/packets.hpp"

namespace dialout {
namespace {

using Kind = RouteAction::Kind;
using Lane = SendQueue::Lane;

const RouteTable::TimePoint t0 = RouteTable::TimePoint{} + std::chrono::hours(1000);

// office-b (id 2) serves 10.2.0.0/16, office-c (id 3) the narrower 10.2.5.0/24.
RouteTable table() {
  RouteTable t;
  t.apply(Routes{{RouteEntry{2, "office-b", {*Prefix::parse("10.2.0.0/16")}},
                  RouteEntry{3, "office-c", {*Prefix::parse("10.2.5.0/24")}}}},
          t0);
  return t;
}

std::vector<uint8_t> udp(const char* dst, size_t payload) {
  return test::ipv4_udp("10.1.0.2", dst, 4000, 53, std::string(payload, 'x'));
}

TEST(Router, DecidesPerDatagram) {
  struct Case {
    const char* what;
    bool enabled, vnet;
    std::vector<uint8_t> whole;
    Kind kind;
    SiteId dst;
    Lane lane;
    uint8_t flags;
  };
  const auto tcp = test::ipv4_tcp("10.1.0.2", "10.2.0.9", 40000, 443, 20 * 1448, true);
  const auto tiny_gso = test::ipv4_tcp("10.1.0.2", "10.2.0.9", 40000, 443, 75 * 536, true);
  const Case cases[] = {
      {"small datagram: urgent lane", true, false, udp("10.2.0.9", 10), Kind::Send, 2, Lane::Urgent, 0},
      {"large datagram: bulk lane", true, false, udp("10.2.0.9", 1200), Kind::Send, 2, Lane::Bulk, 0},
      {"longest prefix wins", true, false, udp("10.2.5.9", 10), Kind::Send, 3, Lane::Urgent, 0},
      {"no route", true, false, udp("192.0.2.1", 10), Kind::DropNoRoute, 0, Lane::Bulk, 0},
      {"router role off", false, false, udp("10.2.0.9", 10), Kind::DropInvalid, 0, Lane::Bulk, 0},
      {"not an IP datagram", true, false, std::vector<uint8_t>(40, 0x11), Kind::DropInvalid, 0, Lane::Bulk, 0},
      {"source routed", true, false, test::ipv4_udp_lsrr("10.1.0.2", "10.2.0.9", "10.2.0.7", 1, 2, "via"),
       Kind::DropInvalid, 0, Lane::Bulk, 0},
      {"shorter than a vnet header", true, true, std::vector<uint8_t>(6, 0), Kind::DropInvalid, 0, Lane::Bulk, 0},
      {"vnet, plain datagram: sent with its header", true, true, test::vnet_then(VnetHeader{}, udp("10.2.0.9", 10)),
       Kind::Send, 2, Lane::Urgent, kDataVnet},
      {"superpacket within the bounds travels whole", true, true,
       test::vnet_then(test::kernel_tcp4_header(1448), tcp), Kind::Send, 2, Lane::Bulk, kDataVnet},
      {"superpacket beyond the bounds is finished here", true, true,
       test::vnet_then(test::kernel_tcp4_header(536), tiny_gso), Kind::FinishHere, 2, Lane::Bulk, 0},
  };
  const RouteTable routes = table();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Router router(c.enabled, c.vnet);
    router.set_routes(&routes);
    auto whole = c.whole;
    const RouteAction a = router.route(whole);
    EXPECT_EQ(a.kind, c.kind);
    if (c.kind != Kind::Send && c.kind != Kind::FinishHere) continue;
    EXPECT_EQ(a.dst, c.dst);
    EXPECT_EQ(a.packet.data(), whole.data() + (c.vnet ? kVnetHeaderSize : 0)) << "the IP datagram, in place";
    EXPECT_EQ(a.packet.size(), whole.size() - (c.vnet ? kVnetHeaderSize : 0));
    if (c.kind == Kind::Send) {
      EXPECT_EQ(a.lane, c.lane);
      EXPECT_EQ(a.flags, c.flags);
    } else {
      EXPECT_TRUE(a.header.gso()) << "the kernel's request, for finishing";
    }
  }
}

TEST(Router, AFlowHashesTheSameAndWithoutATableNothingIsRouted) {
  const RouteTable routes = table();
  Router router(true, false);
  auto d = udp("10.2.0.9", 10);
  EXPECT_EQ(router.route(d).kind, Kind::DropNoRoute) << "no table yet";
  router.set_routes(&routes);
  const auto first = router.route(d);
  EXPECT_EQ(first.flow, flow_hash(*parse_ip_packet(d)));
  auto other = test::ipv4_udp("10.1.0.2", "10.2.0.9", 4001, 53, "x");
  EXPECT_NE(router.route(other).flow, first.flow) << "another source port, another flow";
}

TEST(Router, UnreadableDatagramsSayWhy) {
  Router router(true, false);
  std::vector<uint8_t> junk(40, 0x11);
  const auto a = router.route(junk);
  ASSERT_EQ(a.kind, Kind::DropInvalid);
  ASSERT_NE(a.why, nullptr);
  EXPECT_STREQ(a.why, to_string(PacketError::BadVersion));
}

}  // namespace
}  // namespace dialout
