#include "intermediary/registry.hpp"

#include <gtest/gtest.h>

#include <set>
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
  EXPECT_EQ(c.error(), RegistryError::PrefixMismatch);
}

TEST(Registry, SameNameOtherIdentityRefused) {
  Registry r;
  ASSERT_TRUE(r.add_session(1, "gw-a", "office-a", {}));
  auto b = r.add_session(2, "gw-evil", "office-a", {});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), RegistryError::NameTaken);
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
  EXPECT_EQ(b.error(), RegistryError::PrefixTaken);
  EXPECT_EQ(r.generation(), gen);
  EXPECT_EQ(r.find("office-b"), nullptr);
  EXPECT_EQ(r.route(A("10.2.0.1")), std::nullopt);  // no half-registered prefix left behind
  // A more specific prefix inside another site's is allowed, and LPM picks it.
  auto c = r.add_session(3, "laptop", "laptop-alice", std::vector<Prefix>{P("10.1.0.200/32")});
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
  EXPECT_EQ(bad_name.error(), RegistryError::InvalidName);
  auto zero = r.add_session(0, "gw-a", "office-a", {});
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error(), RegistryError::DuplicateSession);
  ASSERT_TRUE(r.add_session(1, "gw-a", "office-a", {}));
  auto dup = r.add_session(1, "gw-b", "office-b", {});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error(), RegistryError::DuplicateSession);
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
