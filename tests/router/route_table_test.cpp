#include "router/route_table.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

using namespace std::chrono_literals;

Prefix P(const char* s) { return *Prefix::parse(s); }
IpAddr A(const char* s) { return *IpAddr::parse(s); }

const RouteTable::TimePoint t0 = RouteTable::TimePoint{} + 1000h;

// One site pushing `prefixes`.
Routes one(SiteId id, const char* name, std::vector<Prefix> prefixes) {
  return Routes{{RouteEntry{id, name, std::move(prefixes)}}};
}

// n distinct /24s under 10.<second>.0.0/16.
std::vector<Prefix> many(int second, int n) {
  std::vector<Prefix> out;
  for (int i = 0; i < n; ++i)
    out.push_back(*Prefix::parse("10." + std::to_string(second) + "." + std::to_string(i) + ".0/24"));
  return out;
}

TEST(RouteTable, PushedRoutesLongestPrefixWins) {
  RouteTable t;
  t.apply(Routes{{RouteEntry{1, "wide", {P("10.0.0.0/8")}}, RouteEntry{2, "narrow", {P("10.2.0.0/24")}}}}, t0);
  EXPECT_EQ(t.lookup(A("10.2.0.9")), std::optional<SiteId>(2));
  EXPECT_EQ(t.lookup(A("10.3.0.9")), std::optional<SiteId>(1));
  EXPECT_EQ(t.lookup(A("192.0.2.1")), std::nullopt);
  EXPECT_EQ(t.name_of(2), std::optional<std::string>("narrow"));
}

TEST(RouteTable, StaticRoutesResolveByNameOnceKnown) {
  RouteTable t({{P("172.16.0.0/12"), "office-b"}});
  EXPECT_EQ(t.lookup(A("172.16.1.1")), std::optional<SiteId>(0));  // route by address at the relay
  t.apply(one(7, "office-b", {P("10.2.0.0/24")}), t0);
  EXPECT_EQ(t.lookup(A("172.16.1.1")), std::optional<SiteId>(7));
  EXPECT_EQ(t.lookup(A("10.2.0.1")), std::optional<SiteId>(7));
}

TEST(RouteTable, SnapshotReplacesButTunnelPrefixesStay) {
  RouteTable t;
  t.apply(one(1, "a", {P("10.1.0.0/24")}), t0);
  t.apply(one(2, "b", {P("10.2.0.0/24")}), t0 + 1s);
  EXPECT_EQ(t.lookup(A("10.1.0.5")), std::nullopt) << "a withdrawn route no longer resolves";
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.1.0.0/24"), P("10.2.0.0/24")}))
      << "but stays routed into the tunnel, so its traffic cannot leak out of the default route";
  EXPECT_EQ(t.held_count(), 1u);
  t.clear_pushed(t0 + 2s);
  EXPECT_EQ(t.lookup(A("10.2.0.5")), std::nullopt);
  EXPECT_EQ(t.held_count(), 2u);
}

// PEER_GONE: one site's routes go at once, as if the next snapshot had
// dropped it; the other sites' routes and the statics are untouched.
TEST(RouteTable, ForgettingAGoneSiteDropsOnlyItsRoutes) {
  RouteTable t({{P("172.16.0.0/12"), "office-b"}}, {P("10.1.0.0/24")});
  t.apply(Routes{{RouteEntry{2, "office-b", {P("10.2.0.0/24")}}, RouteEntry{3, "office-c", {P("10.3.0.0/24")}},
                  RouteEntry{4, "laptop", {P("10.1.0.50/32")}}}},
          t0);
  struct Case {
    SiteId gone;
    bool changed;
    const char* gone_address;  // no longer resolves
    std::set<Prefix> tunnel;   // what stays routed into the TUN device
  };
  const Case cases[] = {
      {2, true, "10.2.0.9", {P("172.16.0.0/12"), P("10.2.0.0/24"), P("10.3.0.0/24"), P("10.1.0.50/32")}},
      {2, false, "10.2.0.9", {P("172.16.0.0/12"), P("10.2.0.0/24"), P("10.3.0.0/24"), P("10.1.0.50/32")}},
      {4, true, "10.1.0.50", {P("172.16.0.0/12"), P("10.2.0.0/24"), P("10.3.0.0/24")}},
      {99, false, "10.2.0.9", {P("172.16.0.0/12"), P("10.2.0.0/24"), P("10.3.0.0/24")}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.gone);
    EXPECT_EQ(t.forget_site(c.gone, t0 + 1s), c.changed);
    EXPECT_EQ(t.lookup(A(c.gone_address)), std::nullopt);
    EXPECT_EQ(t.lookup(A("10.3.0.9")), std::optional<SiteId>(3)) << "another site's route stays";
    EXPECT_EQ(t.tunnel_prefixes(), c.tunnel)
        << "a gone site's LAN stays held in the tunnel (no leak out of the default route); "
           "a laptop's host route inside our LAN goes at once";
  }
  EXPECT_EQ(t.lookup(A("172.16.1.1")), std::optional<SiteId>(0)) << "the static route falls back to the relay";
}

TEST(RouteTable, PrefixesInsideOwnLanComeAndGoWithTheSnapshot) {
  RouteTable t({}, {P("10.1.0.0/24"), P("fd00:1::/64")});
  auto refused = t.apply(Routes{{RouteEntry{2, "office-b", {P("10.2.0.0/24")}},
                                 RouteEntry{3, "laptop", {P("10.1.0.50/32"), P("fd00:1::50/128")}},
                                 RouteEntry{4, "same", {P("10.1.0.0/24")}}}},
                         t0);
  EXPECT_EQ(t.local_prefixes(), (std::set<Prefix>{P("10.1.0.50/32"), P("fd00:1::50/128")}))
      << "only prefixes strictly inside our own are local";
  EXPECT_EQ(t.lookup(A("10.1.0.50")), std::optional<SiteId>(3));
  ASSERT_EQ(refused.size(), 1u) << "the same prefix as our own LAN would take it over";
  EXPECT_EQ(refused[0].prefix, P("10.1.0.0/24"));
  EXPECT_EQ(refused[0].site, "same");
  EXPECT_EQ(t.lookup(A("10.1.0.7")), std::nullopt);
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.2.0.0/24"), P("10.1.0.50/32"), P("fd00:1::50/128")}));
  t.apply(one(2, "office-b", {P("10.2.0.0/24")}), t0 + 1s);
  EXPECT_TRUE(t.local_prefixes().empty()) << "the laptop left";
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.2.0.0/24")}))
      << "its host routes leave the tunnel set; other sites' prefixes stay";
  EXPECT_EQ(t.lookup(A("10.1.0.50")), std::nullopt);
}

TEST(RouteTable, RefusedPrefixesAreNeitherRoutedNorInstalled) {
  struct Case {
    const char* name;
    Prefix pushed;
    const char* reason;  // empty: accepted
  };
  const Case cases[] = {
      {"IPv4 default route", P("0.0.0.0/0"), "it contains the intermediary's address 203.0.113.1"},
      {"IPv6 default route", P("::/0"), "it contains the intermediary's address 2001:db8::1"},
      {"covers the intermediary", P("203.0.113.0/24"), "it contains the intermediary's address 203.0.113.1"},
      {"is the intermediary", P("203.0.113.1/32"), "it contains the intermediary's address 203.0.113.1"},
      {"covers the IPv6 intermediary", P("2001:db8::/32"), "it contains the intermediary's address 2001:db8::1"},
      {"equals our LAN", P("10.1.0.0/24"), "it covers this site's advertised prefix 10.1.0.0/24"},
      {"covers our LAN", P("10.0.0.0/8"), "it covers this site's advertised prefix 10.1.0.0/24"},
      {"inside a connected network", P("192.168.1.64/26"), "it overlaps the connected network 192.168.1.0/24"},
      {"covers a connected network", P("192.168.0.0/16"), "it overlaps the connected network 192.168.1.0/24"},
      {"a laptop inside our (connected) LAN", P("10.1.0.50/32"), ""},
      {"someone else's LAN", P("10.2.0.0/24"), ""},
      {"next to the intermediary", P("203.0.114.0/24"), ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    RouteTable t({}, {P("10.1.0.0/24")});
    t.set_host(HostFacts{{A("203.0.113.1"), A("2001:db8::1")}, {P("192.168.1.0/24"), P("10.1.0.0/24")}}, t0);
    auto refused = t.apply(one(9, "peer", {c.pushed}), t0);
    if (*c.reason == '\0') {
      EXPECT_TRUE(refused.empty());
      EXPECT_EQ(t.tunnel_prefixes().count(c.pushed), 1u);
      EXPECT_EQ(t.lookup(c.pushed.addr), std::optional<SiteId>(9));
      continue;
    }
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_EQ(refused[0].prefix, c.pushed);
    EXPECT_EQ(refused[0].site, "peer");
    EXPECT_EQ(refused[0].reason.rfind(c.reason, 0), 0u) << refused[0].reason;
    EXPECT_TRUE(t.tunnel_prefixes().empty());
    EXPECT_EQ(t.lookup(c.pushed.addr), std::nullopt);
  }
}

// advertise '192.168.0.0/16 as 10.101.0.0/16' with only 192.168.1.0/24
// connected: the rest of the hidden LAN range (behind a LAN router) is not a
// connected network, yet a pushed 192.168.5.0/24 (another office that
// registers it untranslated) would take that traffic into the tunnel.
TEST(RouteTable, TranslatedLanRangesAreNeverRoutedIntoTheTunnel) {
  LearnedRouteSettings s;
  s.translated_lans = {P("192.168.0.0/16")};
  RouteTable t({}, {P("10.101.0.0/16")}, s);
  t.set_host(HostFacts{{A("203.0.113.1")}, {P("192.168.1.0/24")}}, t0);
  auto refused = t.apply(one(9, "peer", {P("192.168.5.0/24"), P("192.0.0.0/8"), P("10.102.0.0/16"),
                                         P("10.101.0.50/32"), P("10.101.0.0/16")}),
                         t0);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[0].reason,
            "it overlaps this site's translated LAN range 192.168.0.0/16 (allow-learned-route can accept it)");
  EXPECT_EQ(refused[1].reason, refused[0].reason);
  EXPECT_EQ(refused[2].reason.rfind("it covers this site's advertised prefix 10.101.0.0/16", 0), 0u);
  // Another office's translated prefix is fine, and a laptop numbered
  // inside our OUT prefix is local (routed to, not refused).
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.102.0.0/16"), P("10.101.0.50/32")}));
  EXPECT_EQ(t.local_prefixes(), (std::set<Prefix>{P("10.101.0.50/32")}));

  s.allowed = {P("192.168.5.0/24")};
  RouteTable allowed({}, {P("10.101.0.0/16")}, s);
  EXPECT_TRUE(allowed.apply(one(9, "peer", {P("192.168.5.0/24")}), t0).empty());
}

TEST(RouteTable, DefaultRoutesAreRefusedEvenWithoutAnIntermediaryAddress) {
  RouteTable t;  // the intermediary's name did not resolve at start
  auto refused = t.apply(one(9, "peer", {P("0.0.0.0/0"), P("::/0"), P("10.2.0.0/24")}), t0);
  ASSERT_EQ(refused.size(), 2u);
  for (const auto& r : refused)
    EXPECT_EQ(r.reason, "it is a default route (allow-learned-route can accept it)") << r.prefix.to_string();
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.2.0.0/24")}));
  EXPECT_EQ(t.lookup(A("192.0.2.1")), std::nullopt);
}

TEST(RouteTable, AllowedPrefixesSkipEveryCheckButTheIntermediarys) {
  LearnedRouteSettings s;
  s.allowed = {P("0.0.0.0/0"), P("::/0")};
  RouteTable t({}, {P("10.1.0.0/24")}, s);
  t.set_host(HostFacts{{A("203.0.113.1")}, {P("192.168.1.0/24")}}, t0);
  auto refused = t.apply(one(9, "peer", {P("::/0"), P("10.0.0.0/8"), P("192.168.1.0/25"), P("203.0.113.0/24")}), t0);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].prefix, P("203.0.113.0/24")) << "the uplinks cannot go through their own tunnel";
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("::/0"), P("10.0.0.0/8"), P("192.168.1.0/25")}));
}

TEST(RouteTable, ARefusalIsReportedOnceWhileItIsPushed) {
  RouteTable t;
  t.set_host(HostFacts{{A("203.0.113.1")}, {}}, t0);
  EXPECT_EQ(t.apply(one(9, "peer", {P("203.0.113.0/24")}), t0).size(), 1u);
  EXPECT_TRUE(t.apply(one(9, "peer", {P("203.0.113.0/24")}), t0 + 1s).empty()) << "the same snapshot again";
  EXPECT_TRUE(t.apply(one(9, "peer", {P("203.0.113.0/24"), P("10.2.0.0/24")}), t0 + 2h).empty())
      << "still pushed, however long";
  t.apply(one(9, "peer", {P("10.2.0.0/24")}), t0 + 3h);  // withdrawn
  EXPECT_TRUE(t.apply(one(9, "peer", {P("203.0.113.0/24")}), t0 + 3h + 1min).empty()) << "back within the hold";
  t.apply(one(9, "peer", {}), t0 + 4h);
  t.expire(t0 + 4h + 11min);
  EXPECT_EQ(t.apply(one(9, "peer", {P("203.0.113.0/24")}), t0 + 4h + 12min).size(), 1u)
      << "gone for longer than the hold: reported again";
}

TEST(RouteTable, NewHostFactsRejudgeRoutedAndHeldPrefixes) {
  RouteTable t;
  t.apply(one(9, "peer", {P("192.168.1.0/24"), P("10.2.0.0/24")}), t0);
  t.apply(one(9, "peer", {P("192.168.1.0/24")}), t0 + 1s);  // 10.2.0.0/24 is held
  auto refused = t.set_host(HostFacts{{}, {P("192.168.1.0/24"), P("10.2.0.0/16")}}, t0 + 2s);
  ASSERT_EQ(refused.size(), 1u) << "the pushed one is reported; the held one just goes";
  EXPECT_EQ(refused[0].prefix, P("192.168.1.0/24"));
  EXPECT_TRUE(t.tunnel_prefixes().empty());
  EXPECT_EQ(t.lookup(A("192.168.1.1")), std::nullopt);
  EXPECT_TRUE(t.set_host(HostFacts{}, t0 + 3s).empty());
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("192.168.1.0/24")})) << "routed again once allowed";
}

TEST(RouteTable, HeldPrefixesExpireAfterTheHoldTime) {
  LearnedRouteSettings s;
  s.hold = 10min;
  RouteTable t({{P("172.16.0.0/12"), "office-c"}}, {}, s);
  t.apply(one(1, "a", {P("10.1.0.0/24"), P("10.9.0.0/24")}), t0);
  t.apply(one(1, "a", {P("10.9.0.0/24")}), t0 + 5min);  // withdrawn now: the hold starts here
  EXPECT_FALSE(t.expire(t0 + 14min));
  EXPECT_EQ(t.tunnel_prefixes().count(P("10.1.0.0/24")), 1u);
  EXPECT_TRUE(t.expire(t0 + 15min));
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.9.0.0/24"), P("172.16.0.0/12")}))
      << "still-pushed and static prefixes never expire";
  EXPECT_FALSE(t.expire(t0 + 15min));
  EXPECT_FALSE(t.expire(t0 + 100h));

  LearnedRouteSettings none;
  none.hold = 0ms;
  RouteTable u({}, {}, none);
  u.apply(one(1, "a", {P("10.1.0.0/24")}), t0);
  u.apply(one(1, "a", {}), t0 + 1s);
  EXPECT_TRUE(u.tunnel_prefixes().empty()) << "hold 0: a withdrawn prefix leaves at once";
}

TEST(RouteTable, LearnedPrefixesAreCappedHeldOnesMakeRoomOldestFirst) {
  LearnedRouteSettings s;
  s.max_learned = 4;
  RouteTable t({{P("172.16.0.0/12"), "office-c"}}, {}, s);
  t.apply(one(1, "a", many(1, 2)), t0);
  t.apply(one(1, "a", many(2, 2)), t0 + 1s);  // 10.1.*: held since t0+1s
  t.apply(one(1, "a", many(3, 2)), t0 + 2s);  // 10.2.*: held since t0+2s; 10.1.* make room
  EXPECT_EQ(t.tunnel_prefixes(), (std::set<Prefix>{P("10.2.0.0/24"), P("10.2.1.0/24"), P("10.3.0.0/24"),
                                                   P("10.3.1.0/24"), P("172.16.0.0/12")}))
      << "the cap counts learned prefixes, not the statics";
  // A peer re-registering again and again with new prefixes cannot grow it.
  for (int round = 4; round < 40; ++round) {
    t.apply(one(1, "a", many(round, 3)), t0 + std::chrono::seconds(round));
    EXPECT_EQ(t.tunnel_prefixes().size(), 5u);
    EXPECT_EQ(t.lookup(A(("10." + std::to_string(round) + ".2.1").c_str())), std::optional<SiteId>(1));
  }
}

TEST(RouteTable, AtTheCapPushedPrefixesAreSharedOutInTurns) {
  LearnedRouteSettings s;
  s.max_learned = 4;
  RouteTable t({}, {}, s);
  auto refused = t.apply(Routes{{RouteEntry{1, "greedy", many(1, 10)}, RouteEntry{2, "modest", many(2, 1)}}}, t0);
  EXPECT_EQ(t.lookup(A("10.2.0.1")), std::optional<SiteId>(2)) << "one site's ten do not crowd out another's one";
  EXPECT_EQ(t.tunnel_prefixes().size(), 4u);
  ASSERT_EQ(refused.size(), 7u);
  EXPECT_EQ(refused[0].site, "greedy");
  EXPECT_EQ(refused[0].reason, "the learned-route limit (max-learned-routes 4) is reached");
  EXPECT_TRUE(t.apply(Routes{{RouteEntry{1, "greedy", many(1, 10)}, RouteEntry{2, "modest", many(2, 1)}}}, t0 + 1s)
                  .empty())
      << "reported once";
  // Routed prefixes keep their place when the snapshot is repeated.
  EXPECT_EQ(t.lookup(A("10.2.0.1")), std::optional<SiteId>(2));
  EXPECT_EQ(t.lookup(A("10.1.0.1")), std::optional<SiteId>(1));
}

}  // namespace
}  // namespace dialout
