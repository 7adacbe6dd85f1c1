// Pre-authentication bounds: admit / evict oldest / refuse over the rate.
#include "intermediary/pending_limits.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = PendingLimits::Clock;
using Id = PendingLimits::Id;

const Clock::time_point T0 = Clock::time_point{} + 1000s;

struct Step {
  Id id;
  const char* source;
  Clock::duration at;            // after T0
  bool admitted;
  std::vector<Id> evicted;
};

struct Case {
  const char* name;
  PendingLimitsConfig config;
  std::vector<Step> steps;
  std::vector<Id> done_after;    // ids done() after all steps
  size_t pending_left;
};

class PendingLimitsTable : public ::testing::TestWithParam<Case> {};

TEST_P(PendingLimitsTable, Decisions) {
  const Case& c = GetParam();
  PendingLimits limits(c.config);
  for (const auto& s : c.steps) {
    auto d = limits.admit(s.id, s.source, T0 + s.at);
    EXPECT_EQ(d.admitted, s.admitted) << "id " << s.id;
    EXPECT_EQ(d.evicted, s.evicted) << "id " << s.id;
  }
  for (Id id : c.done_after) limits.done(id);
  EXPECT_EQ(limits.pending(), c.pending_left);
}

// rate 0: no rate limit, so the bounds alone decide.
const PendingLimitsConfig kSmall{.max_total = 4, .max_per_source = 2, .rate_per_source = 0, .burst_per_source = 1};
const PendingLimitsConfig kRate{.max_total = 100, .max_per_source = 100, .rate_per_source = 2, .burst_per_source = 3};

INSTANTIATE_TEST_SUITE_P(
    All, PendingLimitsTable,
    ::testing::Values(
        Case{"under_bounds", kSmall, {{1, "a", 0s, true, {}}, {2, "b", 0s, true, {}}}, {}, 2},
        Case{"per_source_evicts_oldest_of_that_source",
             kSmall,
             {{1, "a", 0s, true, {}}, {2, "b", 0s, true, {}}, {3, "a", 0s, true, {}}, {4, "a", 0s, true, {1}}},
             {},
             3},
        Case{"total_evicts_oldest_overall",
             kSmall,
             {{1, "a", 0s, true, {}},
              {2, "b", 0s, true, {}},
              {3, "c", 0s, true, {}},
              {4, "d", 0s, true, {}},
              {5, "e", 0s, true, {1}}},
             {},
             4},
        Case{"per_source_bound_first",
             kSmall,
             {{1, "b", 0s, true, {}},
              {2, "a", 0s, true, {}},
              {3, "a", 0s, true, {}},
              {4, "c", 0s, true, {}},
              {5, "a", 0s, true, {2}}},  // room made in a's share: the total is under its bound again
             {},
             4},
        Case{"done_frees_room",
             kSmall,
             {{1, "a", 0s, true, {}}, {2, "a", 0s, true, {}}},
             {1, 2, 99},
             0},
        Case{"rate_burst_then_refused",
             kRate,
             {{1, "a", 0ms, true, {}},
              {2, "a", 0ms, true, {}},
              {3, "a", 0ms, true, {}},
              {4, "a", 0ms, false, {}},
              {5, "b", 0ms, true, {}},  // another source has its own bucket
              {6, "a", 499ms, false, {}},
              {7, "a", 510ms, true, {}},  // 2/s: a token back after half a second
              {8, "a", 600ms, false, {}}},
             {},
             5},
        Case{"rate_refill_capped_at_burst",
             kRate,
             {{1, "a", 0s, true, {}},
              {2, "a", 100s, true, {}},
              {3, "a", 100s, true, {}},
              {4, "a", 100s, true, {}},
              {5, "a", 100s, false, {}}},
             {},
             4}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PendingLimits, SourceTableStaysBounded) {
  PendingLimits limits({.max_total = 16, .max_per_source = 4, .rate_per_source = 1, .burst_per_source = 2,
                        .max_sources = 100});
  // 10,000 sources, each connecting once and finishing at once.
  for (Id id = 1; id <= 10000; ++id) {
    auto d = limits.admit(id, "10.0." + std::to_string(id / 256) + "." + std::to_string(id % 256), T0);
    ASSERT_TRUE(d.admitted);
    limits.done(id);
    ASSERT_LE(limits.sources(), 100u);
  }
  EXPECT_EQ(limits.pending(), 0u);
}

TEST(PendingLimits, ManySourcesPendingKeepTotalBound) {
  PendingLimits limits({.max_total = 16, .max_per_source = 4, .rate_per_source = 0, .max_sources = 32});
  for (Id id = 1; id <= 1000; ++id) {
    auto d = limits.admit(id, "s" + std::to_string(id), T0);
    ASSERT_TRUE(d.admitted);
    if (id > 16) {
      ASSERT_EQ(d.evicted, std::vector<Id>{id - 16});
    }
    ASSERT_LE(limits.pending(), 16u);
    ASSERT_LE(limits.sources(), 32u);
  }
}

TEST(PendingLimits, RegisteredNeverEvicted) {
  PendingLimits limits({.max_total = 4, .max_per_source = 2, .rate_per_source = 0});
  ASSERT_TRUE(limits.admit(1, "a", T0).admitted);
  limits.done(1);  // registered: no longer pending
  for (Id id = 2; id < 50; ++id)
    for (Id e : limits.admit(id, "a", T0).evicted) ASSERT_NE(e, 1u);
  EXPECT_EQ(limits.pending(), 2u);
}

TEST(PendingLimits, OneSourceFloodLeavesOthersAlone) {
  PendingLimits limits({.max_total = 8, .max_per_source = 3, .rate_per_source = 0});
  ASSERT_TRUE(limits.admit(1, "site", T0).admitted);
  for (Id id = 2; id < 500; ++id) {
    auto d = limits.admit(id, "flood", T0);
    for (Id e : d.evicted) ASSERT_NE(e, 1u) << "the site's connection was evicted";
  }
  EXPECT_EQ(limits.pending_from("site"), 1u);
  EXPECT_EQ(limits.pending_from("flood"), 3u);
}

TEST(PendingLimits, LimitSourceIsTheAddressForIpv4AndTheSlash64ForIpv6) {
  struct Case {
    const char* peer;
    const char* source;
  };
  const Case cases[] = {
      {"192.0.2.7", "192.0.2.7"},
      {"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
      {"2001:db8:1:2::1", "2001:db8:1:2::/64"},  // same host, another privacy address
      {"2001:db8:1:3::1", "2001:db8:1:3::/64"},  // the next /64 is another source
      {"unknown peer", "unknown peer"},
  };
  for (const auto& c : cases) EXPECT_EQ(limit_source(c.peer), c.source) << c.peer;

  // One host rotating addresses inside its /64 meets one per-source bound.
  PendingLimits limits(PendingLimitsConfig{.max_total = 100, .max_per_source = 2, .rate_per_source = 0});
  auto t = Clock::time_point{};
  EXPECT_TRUE(limits.admit(1, limit_source("2001:db8:1:2::1"), t).evicted.empty());
  EXPECT_TRUE(limits.admit(2, limit_source("2001:db8:1:2::2"), t).evicted.empty());
  auto third = limits.admit(3, limit_source("2001:db8:1:2::3"), t);
  EXPECT_EQ(third.evicted, std::vector<Id>{1}) << "the /64's oldest pending connection makes room";
}

}  // namespace
}  // namespace dialout
