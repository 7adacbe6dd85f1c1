// Reload diffing: which live registrations survive a new policy.
#include "intermediary/registration_recheck.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialout {
namespace {

Prefix P(const char* s) { return *Prefix::parse(s); }

const char* kOld = R"(
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
[identity gw-b]
register = office-b
advertise = 10.2.0.0/16
[group laptops]
register = laptop-{user}*
)";

struct Live {
  SessionId session;
  PeerIdentity who;
  std::string name;
  std::vector<Prefix> advertised;
};

const std::vector<Live> kLive = {
    {1, {"gw-a", {}}, "office-a", {P("10.1.0.0/24")}},
    {2, {"gw-b", {}}, "office-b", {P("10.2.0.0/24"), P("10.2.1.0/24")}},
    {3, {"alice", {"laptops"}}, "laptop-alice", {}},
    {4, {"gw-b", {}}, "office-b", {P("10.2.0.0/24"), P("10.2.1.0/24")}},  // a second session of office-b
};

struct Case {
  const char* name;
  const char* policy;
  std::vector<std::pair<SessionId, RefuseReason>> withdrawn;
};

class RecheckTable : public ::testing::TestWithParam<Case> {};

TEST_P(RecheckTable, Withdrawn) {
  const Case& c = GetParam();
  auto policy = Policy::parse(c.policy, "test");
  ASSERT_TRUE(policy) << policy.error().to_string();
  std::vector<LiveRegistration> live;
  for (const auto& l : kLive) live.push_back({l.session, &l.who, l.name, l.advertised});
  auto got = withdrawn_registrations(*policy, live);
  std::vector<std::pair<SessionId, RefuseReason>> ids;
  for (const auto& w : got) {
    ids.emplace_back(w.session, w.refusal.reason);
    EXPECT_FALSE(w.refusal.text.empty());
  }
  EXPECT_EQ(ids, c.withdrawn);
}

INSTANTIATE_TEST_SUITE_P(
    All, RecheckTable,
    ::testing::Values(
        Case{"same_policy_keeps_all", kOld, {}},
        Case{"section_removed",
             R"(
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
[group laptops]
register = laptop-{user}*
)",
             {{2, RefuseReason::NameNotAllowed}, {4, RefuseReason::NameNotAllowed}}},
        Case{"prefix_narrowed",
             R"(
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
[identity gw-b]
register = office-b
advertise = 10.2.0.0/24
[group laptops]
register = laptop-{user}*
)",
             {{2, RefuseReason::PrefixNotAllowed}, {4, RefuseReason::PrefixNotAllowed}}},
        Case{"group_rule_gone",
             R"(
[identity gw-a]
register = office-a
advertise = 10.1.0.0/24
[identity gw-b]
register = office-b
advertise = 10.2.0.0/16
)",
             {{3, RefuseReason::NameNotAllowed}}},
        Case{"name_renamed_others_widened",
             R"(
[identity gw-a]
register = office-a2
advertise = 10.0.0.0/8
[identity gw-b]
register = office-b, office-c
advertise = 10.0.0.0/8
[group laptops]
register = laptop-*
)",
             {{1, RefuseReason::NameNotAllowed}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Recheck, AdvertisedLeavesOutPoolAddresses) {
  Site s;
  s.prefixes = {P("10.1.0.0/24"), P("100.64.0.7/32")};
  s.assigned = {P("100.64.0.7/32")};
  EXPECT_EQ(advertised_prefixes(s), std::vector<Prefix>{P("10.1.0.0/24")});
}

}  // namespace
}  // namespace dialout
