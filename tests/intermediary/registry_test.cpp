#include "intermediary/registry.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dialout {
namespace {

Prefix P(const char* s) { return *Prefix::parse(s); }
IpAddr A(const char* s) { return *IpAddr::parse(s); }

TEST(Registry, RegisterCreatesSite) {
  Registry r;
  std::vector<Prefix> ps{P("10.1.0.0/24"), P("fd00:1::/64")};
  auto id = r.add_session(1, "gw-a", "office-a", ps);
  ASSERT_TRUE(id);
  EXPECT_NE(*id, 0u);
  const Site* s = r.site(*id);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->name, "office-a");
  EXPECT_EQ(s->identity, "gw-a");
  EXPECT_EQ(s->sessions, std::vector<SessionId>{1});
  EXPECT_EQ(r.find("office-a"), s);
  EXPECT_EQ(r.find("office-b"), nullptr);
  EXPECT_EQ(r.site_of(1), *id);
  EXPECT_EQ(r.route(A("10.1.0.9")), *id);
  EXPECT_EQ(r.route(A("fd00:1::9")), *id);
  EXPECT_EQ(r.route(A("10.2.0.9")), std::nullopt);
}

TEST(Registry, SecondSessionSameIdentityJoins) {
  Registry r;
  std::vector<Prefix> ps{P("10.1.0.0/24"), P("10.1.1.0/24")};
  std::vector<Prefix> reordered{P("10.1.1.0/24"), P("10.1.0.0/24"), P("10.1.1.0/24")};
  auto a = r.add_session(1, "gw-a", "office-a", ps);
  auto b = r.add_session(2, "gw-a", "office-a", reordered);  // same set, other order
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(r.site(*a)->sessions, (std::vector<SessionId>{1, 2}));
  EXPECT_EQ(r.site_count(), 1u);
  // Joining with a different prefix list is refused: routes would disagree.
  auto c = r.add_session(3, "gw-a", "office-a", std::vector<Prefix>{P("10.1.0.0/24")});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().error, RegistryError::PrefixMismatch);
}

TEST(Registry, SameNameOtherIdentityRefused) {
  Registry r;
  ASSERT_TRUE(r.add_session(1, "gw-a", "office-a", {}));
  auto b = r.add_session(2, "gw-evil", "office-a", {});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().error, RegistryError::NameTaken);
  EXPECT_EQ(r.site_of(2), std::nullopt);
}

TEST(Registry, PrefixOverlap) {
  Registry r;
  auto a = r.add_session(1, "gw-a", "office-a", std::vector<Prefix>{P("10.1.0.0/16")});
  ASSERT_TRUE(a);
  auto gen = r.generation();
  // Identical prefix from another site: refused, nothing changes.
  auto b = r.add_session(2, "gw-b", "office-b", std::vector<Prefix>{P("10.2.0.0/16"), P("10.1.0.0/16")});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().error, RegistryError::PrefixTaken);
  EXPECT_EQ(r.generation(), gen);
  EXPECT_EQ(r.find("office-b"), nullptr);
  EXPECT_EQ(r.route(A("10.2.0.1")), std::nullopt);  // no half-registered prefix left behind
  // A pool address inside another identity's prefix is allowed, and LPM picks it.
  auto c = r.add_session(3, "laptop", "laptop-alice", {}, std::vector<Prefix>{P("10.1.0.200/32")});
  ASSERT_TRUE(c);
  EXPECT_EQ(r.route(A("10.1.0.200")), *c);
  EXPECT_EQ(r.route(A("10.1.0.201")), *a);
  // Sources follow routes: the laptop's address is not office-a's to send from.
  EXPECT_TRUE(r.owns_source(*c, A("10.1.0.200")));
  EXPECT_FALSE(r.owns_source(*a, A("10.1.0.200")));
  EXPECT_TRUE(r.owns_source(*a, A("10.1.0.201")));
  EXPECT_FALSE(r.owns_source(*c, A("10.1.0.201")));
  EXPECT_FALSE(r.owns_source(*a, A("10.9.0.1")));
  EXPECT_FALSE(r.owns_source(0, A("10.1.0.201")));
  EXPECT_FALSE(r.owns_source(999, A("10.1.0.201")));
}

struct OverlapCase {
  const char* what;
  const char* identity;  // of the newcomer; the table holds office-b (10.2.0.0/24, fd00:2::/64) of gw-b
  std::vector<const char*> advertised, assigned, nestable;
  std::optional<RegistryError> want;  // nullopt: accepted
  const char* text = "";              // part of to_string(refusal)
};

TEST(Registry, OverlapsBetweenIdentitiesTable) {
  const OverlapCase cases[] = {
      {"equal", "rogue", {"10.2.0.0/24"}, {}, {}, RegistryError::PrefixTaken,
       "10.2.0.0/24 is already registered by site 'office-b'"},
      {"inside", "rogue", {"10.2.0.128/25"}, {}, {}, RegistryError::PrefixOverlaps,
       "10.2.0.128/25 lies inside 10.2.0.0/24, registered by site 'office-b' of another identity"},
      {"a host inside", "rogue", {"10.2.0.1/32"}, {}, {}, RegistryError::PrefixOverlaps, "lies inside 10.2.0.0/24"},
      {"covering", "rogue", {"10.0.0.0/8"}, {}, {}, RegistryError::PrefixOverlaps,
       "10.0.0.0/8 lies around 10.2.0.0/24, registered by site 'office-b' of another identity"},
      {"default route", "rogue", {"0.0.0.0/0"}, {}, {}, RegistryError::PrefixOverlaps, "around 10.2.0.0/24"},
      {"one of several overlaps", "rogue", {"10.9.0.0/24", "10.2.0.64/26"}, {}, {}, RegistryError::PrefixOverlaps,
       "10.2.0.64/26 lies inside"},
      {"disjoint", "rogue", {"10.3.0.0/24", "10.2.1.0/24"}, {}, {}, std::nullopt},
      {"adjacent covering block", "rogue", {"10.2.1.0/24", "10.2.2.0/23"}, {}, {}, std::nullopt},
      {"same identity inside", "gw-b", {"10.2.0.128/25"}, {}, {}, std::nullopt},
      {"same identity around", "gw-b", {"10.0.0.0/8"}, {}, {}, std::nullopt},
      {"same identity equal", "gw-b", {"10.2.0.0/24"}, {}, {}, RegistryError::PrefixTaken},
      {"v6 inside", "rogue", {"fd00:2::80/121"}, {}, {}, RegistryError::PrefixOverlaps, "lies inside fd00:2::/64"},
      {"v6 covering", "rogue", {"fd00::/16"}, {}, {}, RegistryError::PrefixOverlaps, "lies around fd00:2::/64"},
      {"v6 disjoint", "rogue", {"fd00:3::/64"}, {}, {}, std::nullopt},
      {"::/0 meets the v6 prefix only", "rogue", {"::/0"}, {}, {}, RegistryError::PrefixOverlaps, "fd00:2::/64"},
      {"pool address inside", "alice", {}, {"10.2.0.200/32"}, {}, std::nullopt},
      {"pool address equal", "alice", {}, {"10.2.0.0/24"}, {}, RegistryError::PrefixTaken},
      {"nestable advertised inside", "carol", {"10.2.0.50/32"}, {}, {"10.2.0.50/32"}, std::nullopt},
      {"nestable only for another prefix", "carol", {"10.2.0.50/32"}, {}, {"10.2.0.51/32"},
       RegistryError::PrefixOverlaps},
      {"nestable does not allow covering", "carol", {"10.0.0.0/8"}, {}, {"10.0.0.0/8"},
       RegistryError::PrefixOverlaps, "around 10.2.0.0/24"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Registry r;
    std::vector<Prefix> b{P("10.2.0.0/24"), P("fd00:2::/64")};
    SiteId office_b = *r.add_session(1, "gw-b", "office-b", b);
    auto prefixes = [](const std::vector<const char*>& texts) {
      std::vector<Prefix> out;
      for (const char* t : texts) out.push_back(P(t));
      return out;
    };
    auto adv = prefixes(c.advertised), pool = prefixes(c.assigned), nest = prefixes(c.nestable);
    uint64_t gen = r.generation();
    auto got = r.add_session(2, c.identity, "newcomer", adv, pool, nest);
    if (!c.want) {
      ASSERT_TRUE(got) << to_string(got.error());
      continue;
    }
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().error, *c.want);
    EXPECT_NE(to_string(got.error()).find(c.text), std::string::npos) << to_string(got.error());
    EXPECT_EQ(r.generation(), gen) << "a refusal changes nothing";
    EXPECT_EQ(r.find("newcomer"), nullptr);
    EXPECT_EQ(r.route(A("10.2.0.130")), office_b);
    EXPECT_EQ(r.route(A("10.9.0.1")), std::nullopt) << "no half-registered prefix left behind";
  }
}

TEST(Registry, NestableKeepsOthersFromBeingRefusedAroundIt) {
  Registry r;
  // A laptop came first: its fixed address (nestable) and its pool address.
  std::vector<Prefix> fixed{P("10.1.0.200/32")}, pool{P("10.1.0.201/32")};
  ASSERT_TRUE(r.add_session(1, "carol", "laptop-carol", fixed, {}, fixed));
  ASSERT_TRUE(r.add_session(2, "alice", "laptop-alice", {}, pool));
  // The office (re)registers around both.
  std::vector<Prefix> lan{P("10.1.0.0/24")};
  auto office = r.add_session(3, "gw-a", "office-a", lan);
  ASSERT_TRUE(office) << to_string(office.error());
  EXPECT_EQ(r.route(A("10.1.0.5")), *office);
  // A non-nestable prefix came first: an office cannot be registered around it.
  Registry q;
  std::vector<Prefix> host{P("10.1.0.7/32")};
  ASSERT_TRUE(q.add_session(1, "rogue", "rogue-net", host));
  auto refused = q.add_session(2, "gw-a", "office-a", lan);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error, RegistryError::PrefixOverlaps);
  EXPECT_EQ(to_string(refused.error()),
            "10.1.0.0/24 lies around 10.1.0.7/32, registered by site 'rogue-net' of another identity");
  // Once it is gone, the office registers.
  EXPECT_TRUE(q.remove_session(1));
  EXPECT_TRUE(q.add_session(3, "gw-a", "office-a", lan));
}

TEST(Registry, JoiningNeedsTheSameAssignedAddresses) {
  Registry r;
  std::vector<Prefix> pool{P("10.1.0.201/32")}, other{P("10.1.0.202/32")};
  auto a = r.add_session(1, "alice", "laptop-alice", {}, pool);
  ASSERT_TRUE(a);
  EXPECT_EQ(r.site(*a)->assigned, pool);
  EXPECT_EQ(r.site(*a)->prefixes, pool);
  auto joined = r.add_session(2, "alice", "laptop-alice", {}, pool);
  ASSERT_TRUE(joined);
  EXPECT_EQ(*joined, *a);
  auto b = r.add_session(3, "alice", "laptop-alice", {}, other);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().error, RegistryError::PrefixMismatch);
  auto c = r.add_session(4, "alice", "laptop-alice", pool);  // the same address, but advertised
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().error, RegistryError::PrefixMismatch);
}

TEST(Registry, LastSessionLeavingClearsNameAndPrefixes) {
  Registry r;
  std::vector<Prefix> ps{P("10.1.0.0/24")};
  auto a = r.add_session(1, "gw-a", "office-a", ps);
  ASSERT_TRUE(a);
  ASSERT_TRUE(r.add_session(2, "gw-a", "office-a", ps));
  EXPECT_EQ(r.remove_session(1), std::nullopt);  // one session still carries it
  EXPECT_NE(r.find("office-a"), nullptr);
  EXPECT_EQ(r.route(A("10.1.0.1")), *a);
  EXPECT_EQ(r.remove_session(2), *a);  // gone
  EXPECT_EQ(r.find("office-a"), nullptr);
  EXPECT_EQ(r.site(*a), nullptr);
  EXPECT_EQ(r.route(A("10.1.0.1")), std::nullopt);
  EXPECT_EQ(r.site_count(), 0u);
  EXPECT_EQ(r.remove_session(2), std::nullopt);  // unknown now
  // The name and prefix are free again, for anyone.
  auto b = r.add_session(3, "gw-other", "office-a", ps);
  ASSERT_TRUE(b);
  EXPECT_NE(*b, *a);
}

TEST(Registry, GenerationBumpsOnEveryChange) {
  Registry r;
  std::vector<Prefix> ps{P("10.1.0.0/24")};
  uint64_t g = r.generation();
  ASSERT_TRUE(r.add_session(1, "gw-a", "office-a", ps));
  EXPECT_GT(r.generation(), g);
  g = r.generation();
  ASSERT_TRUE(r.add_session(2, "gw-a", "office-a", ps));
  EXPECT_GT(r.generation(), g);
  g = r.generation();
  (void)r.remove_session(1);
  EXPECT_GT(r.generation(), g);
  g = r.generation();
  (void)r.remove_session(2);
  EXPECT_GT(r.generation(), g);
  g = r.generation();
  (void)r.remove_session(42);  // no change, no bump
  EXPECT_EQ(r.generation(), g);
  ASSERT_FALSE(r.add_session(0, "gw-a", "office-a", ps));
  EXPECT_EQ(r.generation(), g);
}

TEST(Registry, IdsNeverReused) {
  Registry r;
  std::set<SiteId> seen;
  for (SessionId s = 1; s <= 50; ++s) {
    auto id = r.add_session(s, "gw-a", "office-a", std::vector<Prefix>{P("10.1.0.0/24")});
    ASSERT_TRUE(id);
    EXPECT_TRUE(seen.insert(*id).second) << *id;
    EXPECT_EQ(r.remove_session(s), *id);
  }
}

TEST(Registry, RejectsBadInput) {
  Registry r;
  auto bad_name = r.add_session(1, "gw-a", "Office A", {});
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error().error, RegistryError::InvalidName);
  auto zero = r.add_session(0, "gw-a", "office-a", {});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().error, RegistryError::DuplicateSession);
  ASSERT_TRUE(r.add_session(1, "gw-a", "office-a", {}));
  auto dup = r.add_session(1, "gw-b", "office-b", {});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().error, RegistryError::DuplicateSession);
  EXPECT_STRNE(to_string(RegistryError::NameTaken), to_string(RegistryError::PrefixTaken));
}

TEST(Registry, ForEachSiteInIdOrder) {
  Registry r;
  ASSERT_TRUE(r.add_session(1, "a", "site-a", {}));
  ASSERT_TRUE(r.add_session(2, "b", "site-b", {}));
  ASSERT_TRUE(r.add_session(3, "c", "site-c", {}));
  (void)r.remove_session(2);
  std::vector<std::string> names;
  r.for_each_site([&](const Site& s) { names.push_back(s.name); });
  EXPECT_EQ(names, (std::vector<std::string>{"site-a", "site-c"}));
}

}  // namespace
}  // namespace dialout
