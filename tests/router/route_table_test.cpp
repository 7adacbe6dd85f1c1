#include "router/route_table.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

Prefix P(const char* s) { return *Prefix::parse(s); }
IpAddr A(const char* s) { return *IpAddr::parse(s); }

TEST(RouteTable, PushedRoutesLongestPrefixWins) {
  RouteTable t;
  t.apply(Routes{{RouteEntry{1, "wide", {P("10.0.0.0/8")}}, RouteEntry{2, "narrow", {P("10.2.0.0/24")}}}});
  EXPECT_EQ(t.lookup(A("10.2.0.9")), std::optional<SiteId>(2));
  EXPECT_EQ(t.lookup(A("10.3.0.9")), std::optional<SiteId>(1));
  EXPECT_EQ(t.lookup(A("192.0.2.1")), std::nullopt);
  EXPECT_EQ(t.name_of(2), std::optional<std::string>("narrow"));
}

TEST(RouteTable, StaticRoutesResolveByNameOnceKnown) {
  RouteTable t({{P("172.16.0.0/12"), "office-b"}});
  EXPECT_EQ(t.lookup(A("172.16.1.1")), std::optional<SiteId>(0));  // route by address at the relay
  t.apply(Routes{{RouteEntry{7, "office-b", {P("10.2.0.0/24")}}}});
  EXPECT_EQ(t.lookup(A("172.16.1.1")), std::optional<SiteId>(7));
  EXPECT_EQ(t.lookup(A("10.2.0.1")), std::optional<SiteId>(7));
}

TEST(RouteTable, SnapshotReplacesButTunnelPrefixesStay) {
  RouteTable t;
  t.apply(Routes{{RouteEntry{1, "a", {P("10.1.0.0/24")}}}});
  t.apply(Routes{{RouteEntry{2, "b", {P("10.2.0.0/24")}}}});
  EXPECT_EQ(t.lookup(A("10.1.0.5")), std::nullopt) << "a withdrawn route no longer resolves";
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.1.0.0/24"), P("10.2.0.0/24")}))
      << "but stays routed into the tunnel, so its traffic cannot leak out of the default route";
  t.clear_pushed();
  EXPECT_EQ(t.lookup(A("10.2.0.5")), std::nullopt);
}

TEST(RouteTable, PrefixesInsideOwnLanComeAndGoWithTheSnapshot) {
  RouteTable t({}, {P("10.1.0.0/24"), P("fd00:1::/64")});
  t.apply(Routes{{RouteEntry{2, "office-b", {P("10.2.0.0/24")}},
                  RouteEntry{3, "laptop", {P("10.1.0.50/32"), P("fd00:1::50/128")}},
                  RouteEntry{4, "same", {P("10.1.0.0/24")}}}});
  EXPECT_EQ(t.local_prefixes(), (std::set<Prefix>{P("10.1.0.50/32"), P("fd00:1::50/128")}))
      << "only prefixes strictly inside our own are local";
  EXPECT_EQ(t.lookup(A("10.1.0.50")), std::optional<SiteId>(3));
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.1.0.0/24"), P("10.2.0.0/24"), P("10.1.0.50/32"),
                                                   P("fd00:1::50/128")}));
  t.apply(Routes{{RouteEntry{2, "office-b", {P("10.2.0.0/24")}}}});
  EXPECT_TRUE(t.local_prefixes().empty()) << "the laptop left";
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.1.0.0/24"), P("10.2.0.0/24")}))
      << "its host routes leave the tunnel set; other sites' prefixes stay";
  EXPECT_EQ(t.lookup(A("10.1.0.50")), std::nullopt);
}

}  // namespace
}  // namespace dialout
