// The registration decision: policy, registry and pools in, accept or refusal out.
#include "intermediary/registrar.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = Registrar::Clock;

const Clock::time_point T0 = Clock::time_point{} + 1000s;

Prefix P(const char* s) { return *Prefix::parse(s); }

const char* kPolicy = R"(
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
[identity gw-b]
register = office-b, office-a
advertise = 10.1.0.0/16, 10.2.0.0/24
[group laptops]
register = laptop-{user}*
)";

Registrar with_pool(const char* range, size_t per_owner = SIZE_MAX) {
  std::vector<AddressPool> pools;
  pools.push_back(*AddressPool::make(P(range), 60s, per_owner));
  return Registrar(std::move(pools));
}

struct Attempt {
  SessionId session;
  PeerIdentity who;
  Register msg;
  std::string host = "192.0.2.1";
};

Expected<Registered, Refusal> admit(Registrar& r, const Policy& policy, const Attempt& a,
                                    Clock::time_point now = T0) {
  return r.admit(policy, RegistrationRequest{a.session, &a.who, a.host, &a.msg}, now);
}

PeerIdentity laptop(const char* user) { return PeerIdentity{user, {"laptops"}}; }

TEST(Registrar, EachRefusalReason) {
  const Policy policy = *Policy::parse(kPolicy, "test");
  struct Case {
    const char* what;
    std::vector<Attempt> before;  // admitted first
    Attempt attempt;
    bool pool;
    size_t per_owner;
    RefuseReason reason;
  };
  const Case cases[] = {
      {"name not granted", {}, {1, {"gw-a", {}}, {"office-b", 0, {}}}, true, 9, RefuseReason::NameNotAllowed},
      {"prefix not granted",
       {},
       {1, {"gw-a", {}}, {"office-a", 0, {P("10.9.0.0/24")}}},
       true,
       9,
       RefuseReason::PrefixNotAllowed},
      {"duplicate name, other identity",
       {{1, {"gw-a", {}}, {"office-a", 0, {P("10.1.0.0/24")}}}},
       {2, {"gw-b", {}}, {"office-a", 0, {}}},
       true,
       9,
       RefuseReason::NameTaken},
      {"same prefix, other site",
       {{1, {"gw-a", {}}, {"office-a", 0, {P("10.1.0.0/24")}}}},
       {2, {"gw-b", {}}, {"office-b", 0, {P("10.1.0.0/24")}}},
       true,
       9,
       RefuseReason::PrefixTaken},
      {"prefix around another identity's",
       {{1, {"gw-a", {}}, {"office-a", 0, {P("10.1.0.0/24")}}}},
       {2, {"gw-b", {}}, {"office-b", 0, {P("10.1.0.0/16")}}},
       true,
       9,
       RefuseReason::PrefixOverlaps},
      {"no pool configured",
       {},
       {1, laptop("carol"), {"laptop-carol", kRegisterWantAddress, {}}},
       false,
       9,
       RefuseReason::PoolExhausted},
      {"pool exhausted",
       {{1, laptop("carol"), {"laptop-carol", kRegisterWantAddress, {}}},
        {2, laptop("dave"), {"laptop-dave", kRegisterWantAddress, {}}}},
       {3, laptop("erin"), {"laptop-erin", kRegisterWantAddress, {}}},
       true,
       9,
       RefuseReason::PoolExhausted},
      {"too many addresses for one identity",
       {{1, laptop("carol"), {"laptop-carol-1", kRegisterWantAddress, {}}}},
       {2, laptop("carol"), {"laptop-carol-2", kRegisterWantAddress, {}}},
       true,
       1,
       RefuseReason::TooManyAddresses},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Registrar r = c.pool ? with_pool("100.64.0.0/30", c.per_owner) : Registrar{};  // /30: two addresses
    for (const auto& a : c.before) ASSERT_TRUE(admit(r, policy, a).has_value()) << admit(r, policy, a).error().text;
    size_t sites = r.registry().site_count(), leases = r.pool_leases();
    auto got = admit(r, policy, c.attempt);
    ASSERT_FALSE(got.has_value());
    EXPECT_EQ(got.error().reason, c.reason) << got.error().text;
    EXPECT_FALSE(got.error().text.empty());
    // A refusal changes nothing.
    EXPECT_EQ(r.registry().site_count(), sites);
    EXPECT_EQ(r.pool_leases(), leases);
    EXPECT_EQ(r.registry().site_of(c.attempt.session), std::nullopt);
  }
}

TEST(Registrar, SecondSessionJoinsTheSiteAndTheLastOneEndsIt) {
  const Policy policy = *Policy::parse(kPolicy, "test");
  Registrar r;
  Attempt a{1, {"gw-a", {}}, {"office-a", 0, {P("10.1.0.0/24")}}};
  auto first = admit(r, policy, a);
  ASSERT_TRUE(first);
  a.session = 2;
  auto second = admit(r, policy, a);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->site, second->site);
  EXPECT_TRUE(second->retire.empty());  // not roamed
  EXPECT_EQ(r.remove_session(1, T0), std::nullopt);
  EXPECT_EQ(r.remove_session(2, T0), first->site);
  EXPECT_EQ(r.registry().site_count(), 0u);
}

TEST(Registrar, RoamedRegistrationRetiresTheSitesSessionsFromOtherAddresses) {
  const Policy policy = *Policy::parse(kPolicy, "test");
  Registrar r;
  Attempt a{1, {"gw-a", {}}, {"office-a", 0, {P("10.1.0.0/24")}}, "192.0.2.1"};
  ASSERT_TRUE(admit(r, policy, a));
  a.session = 2;  // a second link from the same address
  ASSERT_TRUE(admit(r, policy, a));
  a.session = 3;
  a.host = "198.51.100.7";
  ASSERT_TRUE(admit(r, policy, a));  // not roamed: nothing retired
  a.session = 4;
  a.msg.flags = kRegisterRoamed;
  auto roamed = admit(r, policy, a);
  ASSERT_TRUE(roamed);
  EXPECT_EQ(roamed->retire, (std::vector<SessionId>{1, 2}));  // 3 shares the new address
}

TEST(Registrar, LaptopKeepsItsAddressAcrossAReconnectWithinTheGrace) {
  const Policy policy = *Policy::parse(kPolicy, "test");
  Registrar r = with_pool("100.64.0.0/24");
  Attempt a{1, laptop("carol"), {"laptop-carol", kRegisterWantAddress, {}}};
  auto first = admit(r, policy, a);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->assigned.size(), 1u);
  EXPECT_EQ(r.assigned_sites(), 1u);
  ASSERT_TRUE(r.remove_session(1, T0));
  EXPECT_EQ(r.assigned_sites(), 0u);
  EXPECT_EQ(r.pool_leases(), 1u);  // kept for the grace period

  Attempt other{2, laptop("dave"), {"laptop-dave", kRegisterWantAddress, {}}};
  auto d = admit(r, policy, other, T0 + 1s);
  ASSERT_TRUE(d);
  EXPECT_NE(d->assigned, first->assigned);
  a.session = 3;
  auto again = admit(r, policy, a, T0 + 30s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->assigned, first->assigned);
}

TEST(Registrar, RefusedRegistrationHandsItsNewAddressBack) {
  const Policy policy = *Policy::parse(kPolicy + std::string("[identity carol]\nadvertise = 10.1.0.0/24\n"), "test");
  Registrar r = with_pool("100.64.0.0/24");
  ASSERT_TRUE(admit(r, policy, Attempt{1, {"gw-a", {}}, {"office-a", 0, {P("10.1.0.0/24")}}}));
  // Carol's laptop advertises office A's LAN: the registry refuses after the pool assigned.
  auto got = admit(r, policy, Attempt{2, laptop("carol"), {"laptop-carol", kRegisterWantAddress, {P("10.1.0.0/24")}}});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, RefuseReason::PrefixTaken);
  EXPECT_EQ(r.pool_leases(), 0u);
  r.expire(T0 + 1h);
  EXPECT_EQ(r.pool_leases(), 0u);
}

}  // namespace
}  // namespace dialout
