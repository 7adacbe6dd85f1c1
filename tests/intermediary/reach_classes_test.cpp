// ReachClasses answers for a class what Policy and the plain route_snapshot
// (route_snapshot_reference.hpp) answer per session: table-driven cases for the class rules, then a differential
// run over random policies, identities and registries.
#include "intermediary/reach_classes.hpp"

#include <gtest/gtest.h>

#include <random>

#include "tests/intermediary/route_snapshot_reference.hpp"

namespace dialout {
namespace {

Prefix P(const std::string& s) { return *Prefix::parse(s); }

const char* kPolicy = R"(
[identity gw-a]
register = office-a
reach = *

[identity gw-b]
register = office-b
reach = office-a

[group laptops]
register = laptop-*
reach = office-a

[identity alice]
reach = office-b
)";

class ReachClassesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = *registry_.add_session(1, "gw-a", "office-a", std::vector{P("10.1.0.0/24")});
    b_ = *registry_.add_session(2, "gw-b", "office-b", std::vector{P("10.2.0.0/24")});
    l1_ = *registry_.add_session(3, "bob", "laptop-1", std::vector{P("10.200.0.1/32")});
  }
  RouteEntry entry(SiteId id) const {
    RouteEntry e;
    registry_.for_each_site([&](const Site& s) {
      if (s.id == id) e = RouteEntry{s.id, s.name, s.prefixes};
    });
    return e;
  }
  Policy policy_ = *Policy::parse(kPolicy, "test");
  Registry registry_;
  SiteId a_ = 0, b_ = 0, l1_ = 0;
};

TEST_F(ReachClassesTest, LaptopsInOneGroupShareOneClass) {
  std::vector<SiteChange> none;
  ReachClasses classes(policy_, registry_, none);
  auto& bob = classes.of(PeerIdentity{"bob", {"laptops"}});
  auto& carol = classes.of(PeerIdentity{"carol", {"laptops"}});
  EXPECT_EQ(&bob, &carol);
  auto& alice = classes.of(PeerIdentity{"alice", {"laptops"}});  // her own section too
  EXPECT_NE(&alice, &bob);
  EXPECT_NE(&classes.of(PeerIdentity{"gw-a", {}}), &bob);
  EXPECT_EQ(classes.size(), 3u);
}

TEST_F(ReachClassesTest, ALaptopJoiningConcernsTheClassesThatReachItOnly) {
  SiteId l2 = *registry_.add_session(4, "carol", "laptop-2", std::vector{P("10.200.0.2/32")});
  std::vector<SiteChange> changes{{l2, entry(l2), {}}};
  ReachClasses classes(policy_, registry_, changes);
  auto& hq = classes.of(PeerIdentity{"gw-a", {}});
  EXPECT_TRUE(hq.concerned_by_any);
  EXPECT_TRUE(hq.reaches_now[0]);
  auto& laptops = classes.of(PeerIdentity{"bob", {"laptops"}});
  EXPECT_FALSE(laptops.concerned_by_any) << "laptops reach HQ only: their views cannot change";
  EXPECT_FALSE(classes.of(PeerIdentity{"gw-b", {}}).concerned_by_any);
}

TEST_F(ReachClassesTest, AGoneSiteConcernsTheClassesThatReachedItsName) {
  std::vector<SiteChange> changes{{b_, std::nullopt, "office-b"}};
  ASSERT_TRUE(registry_.remove_session(2));
  ReachClasses classes(policy_, registry_, changes);
  auto& hq = classes.of(PeerIdentity{"gw-a", {}});
  EXPECT_TRUE(hq.concerned[0]);
  EXPECT_FALSE(hq.reaches_now[0]);
  EXPECT_TRUE(classes.of(PeerIdentity{"alice", {}}).concerned[0]);
  EXPECT_FALSE(classes.of(PeerIdentity{"bob", {"laptops"}}).concerned[0]);
}

TEST_F(ReachClassesTest, VisibleIsEveryReachableSiteBuiltOncePerClass) {
  std::vector<SiteChange> none;
  ReachClasses classes(policy_, registry_, none);
  auto& hq = classes.of(PeerIdentity{"gw-a", {}});
  const auto& v = classes.visible(hq);
  ASSERT_EQ(v.size(), 3u) << "its own site included: callers drop it";
  EXPECT_EQ(&classes.visible(hq), &v);
  const auto& laptops = classes.visible(classes.of(PeerIdentity{"bob", {"laptops"}}));
  ASSERT_EQ(laptops.size(), 1u);
  EXPECT_EQ(laptops[0].id, a_);
}

// A site's table: the other live sites its identity may reach, with their
// prefixes, never itself; it encodes as one ROUTES frame.
TEST(ReachClassesTable, OtherSitesTheIdentityMayReachWithTheirPrefixes) {
  const Policy policy = *Policy::parse(R"(
[identity gw-a]
reach = office-b
[identity gw-b]
reach = *
)",
                                       "test");
  Registry r;
  std::vector<Prefix> a{P("10.1.0.0/24")}, b{P("10.2.0.0/24")}, c{P("10.3.0.0/24")};
  SiteId ida = *r.add_session(1, "gw-a", "office-a", a);
  SiteId idb = *r.add_session(2, "gw-b", "office-b", b);
  SiteId idc = *r.add_session(3, "gw-c", "office-c", c);
  std::vector<SiteChange> none;
  ReachClasses classes(policy, r, none);
  auto table = [&](const char* identity, SiteId self) {
    Routes routes;
    for (const auto& e : classes.visible(classes.of(PeerIdentity{identity, {}})))
      if (e.id != self) routes.entries.push_back(e);
    return routes;
  };

  auto for_a = table("gw-a", ida);
  ASSERT_EQ(for_a.entries.size(), 1u);
  EXPECT_EQ(for_a.entries[0].id, idb);
  EXPECT_EQ(for_a.entries[0].name, "office-b");
  EXPECT_EQ(for_a.entries[0].prefixes, b);

  auto for_b = table("gw-b", idb);
  ASSERT_EQ(for_b.entries.size(), 2u);  // never itself
  EXPECT_EQ(for_b.entries[0].id, ida);
  EXPECT_EQ(for_b.entries[1].id, idc);

  EXPECT_TRUE(table("gw-c", idc).entries.empty());

  std::vector<uint8_t> frame;
  ASSERT_TRUE(encode(for_b, frame));
  auto f = next_frame(frame);
  ASSERT_TRUE(f && *f);
  auto decoded = decode_routes((*f)->payload);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->entries.size(), 2u);
}

// Random policies (reach lists, '*', groups, a default) and identities:
// visible() minus the session's own site equals route_snapshot, and each
// change's flags equal asking the policy per identity.
TEST(ReachClassesDifferential, AgreesWithThePerSessionAnswers) {
  std::mt19937 rng(20261202);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const std::vector<std::string> names{"s0", "s1", "s2", "s3", "s4", "s5"};
  const std::vector<std::string> cns{"u0", "u1", "u2"};
  const std::vector<std::string> groups{"g0", "g1"};
  for (int round = 0; round < 300; ++round) {
    std::string text;
    auto reach_line = [&] {
      if (pick(5) == 0) return std::string("reach = *\n");
      std::string line = "reach = " + names[size_t(pick(6))];
      for (int k = pick(3); k > 0; --k) line += ", " + names[size_t(pick(6))];
      return line + "\n";
    };
    for (const auto& cn : cns)
      if (pick(2)) text += "[identity " + cn + "]\n" + reach_line();
    for (const auto& g : groups)
      if (pick(2)) text += "[group " + g + "]\n" + reach_line();
    if (pick(2)) text += "[identity *]\n" + reach_line();
    auto policy = Policy::parse(text, "random");
    ASSERT_TRUE(policy) << text << policy.error().message;

    Registry registry;
    std::vector<SiteId> ids;
    for (size_t i = 0; i < names.size(); ++i)
      if (pick(3) != 0) ids.push_back(*registry.add_session(i + 1, "x", names[i], {}));
    std::vector<SiteChange> changes;
    registry.for_each_site([&](const Site& s) {
      if (pick(2)) changes.push_back(SiteChange{s.id, RouteEntry{s.id, s.name, s.prefixes}, pick(2) ? s.name : ""});
    });
    changes.push_back(SiteChange{999, std::nullopt, names[size_t(pick(6))]});

    ReachClasses classes(*policy, registry, changes);
    for (int q = 0; q < 20; ++q) {
      PeerIdentity who{cns[size_t(pick(3))], {}};
      for (const auto& g : groups)
        if (pick(2)) who.groups.push_back(g);
      SiteId self = ids.empty() || pick(3) == 0 ? 0 : ids[size_t(pick(int(ids.size())))];
      auto& c = classes.of(who);
      std::vector<RouteEntry> got;
      for (const auto& e : classes.visible(c))
        if (e.id != self) got.push_back(e);
      auto want = reference::route_snapshot(registry, *policy, who, self).entries;
      ASSERT_EQ(got.size(), want.size()) << text << who.name;
      for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].id, want[i].id) << text;
      for (size_t i = 0; i < changes.size(); ++i) {
        const auto& ch = changes[i];
        bool now = ch.now && policy->may_reach(who, ch.now->name);
        bool before = !ch.old_name.empty() && policy->may_reach(who, ch.old_name);
        EXPECT_EQ(c.reaches_now[i], now) << text << who.name;
        EXPECT_EQ(c.concerned[i], now || before) << text << who.name;
      }
    }
  }
}

}  // namespace
}  // namespace dialout
