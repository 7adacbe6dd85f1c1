#include "tund/route_sync.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

using O = RouteSync::Outcome;
constexpr auto kSnap = RouteUpdateKind::Snapshot;
constexpr auto kDelta = RouteUpdateKind::Delta;

RouteEntry E(SiteId id) { return RouteEntry{id, "s" + std::to_string(id), {}}; }

RouteUpdate U(uint32_t seq, RouteUpdateKind kind, uint16_t part, uint16_t parts, std::vector<SiteId> add,
              std::vector<SiteId> removed = {}) {
  RouteUpdate u{seq, kind, part, parts, {}, std::move(removed)};
  for (SiteId id : add) u.entries.push_back(E(id));
  return u;
}

std::vector<SiteId> ids(const RouteSync& s) {
  std::vector<SiteId> out;
  for (const auto& [id, e] : s.table()) out.push_back(id);
  return out;
}

// Each row: a sequence of frames, the outcome of each, and the table after.
struct Step {
  RouteUpdate update;
  O want;
};
struct Case {
  const char* name;
  std::vector<Step> steps;
  std::vector<SiteId> table;
  uint32_t seq;
};

TEST(RouteSync, SequenceTable) {
  const Case cases[] = {
      {"snapshot then delta", {{U(5, kSnap, 0, 1, {1, 2}), O::Installed}, {U(6, kDelta, 0, 1, {3}, {1}), O::Installed}},
       {2, 3}, 6},
      {"snapshot in parts", {{U(9, kSnap, 0, 2, {1}), O::Pending}, {U(9, kSnap, 1, 2, {2}), O::Installed}}, {1, 2}, 9},
      {"delta before any snapshot", {{U(1, kDelta, 0, 1, {1}), O::Resync}}, {}, 0},
      {"gap: seq skips", {{U(1, kSnap, 0, 1, {1}), O::Installed}, {U(3, kDelta, 0, 1, {2}), O::Resync}}, {1}, 1},
      {"gap asks once, then ignores deltas",
       {{U(1, kSnap, 0, 1, {1}), O::Installed},
        {U(3, kDelta, 0, 1, {2}), O::Resync},
        {U(4, kDelta, 0, 1, {3}), O::Ignored},
        {U(2, kDelta, 0, 1, {3}), O::Ignored}},
       {1}, 1},
      {"resync snapshot recovers",
       {{U(1, kSnap, 0, 1, {1}), O::Installed},
        {U(3, kDelta, 0, 1, {2}), O::Resync},
        {U(4, kSnap, 0, 1, {7, 8}), O::Installed},
        {U(5, kDelta, 0, 1, {9}), O::Installed}},
       {7, 8, 9}, 5},
      {"part out of order drops the half update",
       {{U(1, kSnap, 0, 1, {1}), O::Installed},
        {U(2, kDelta, 0, 3, {2}), O::Pending},
        {U(2, kDelta, 2, 3, {3}), O::Resync}},
       {1}, 1},
      {"new delta while one is unfinished",
       {{U(1, kSnap, 0, 1, {1}), O::Installed}, {U(2, kDelta, 0, 2, {2}), O::Pending}, {U(3, kDelta, 0, 1, {3}), O::Resync}},
       {1}, 1},
      {"part of another update",
       {{U(1, kSnap, 0, 1, {1}), O::Installed}, {U(2, kDelta, 0, 2, {2}), O::Pending}, {U(3, kDelta, 1, 2, {3}), O::Resync}},
       {1}, 1},
      {"a snapshot cuts an unfinished one short",
       {{U(1, kSnap, 0, 2, {1}), O::Pending}, {U(7, kSnap, 0, 1, {5}), O::Installed}}, {5}, 7},
      {"stray continuation", {{U(1, kSnap, 1, 2, {1}), O::Resync}}, {}, 0},
      {"seq wraps", {{U(0xffffffff, kSnap, 0, 1, {1}), O::Installed}, {U(0, kDelta, 0, 1, {2}), O::Installed}}, {1, 2}, 0},
      {"removing an unknown id is harmless",
       {{U(1, kSnap, 0, 1, {1}), O::Installed}, {U(2, kDelta, 0, 1, {}, {42}), O::Installed}}, {1}, 2},
      {"delta replaces by id", {{U(1, kSnap, 0, 1, {1}), O::Installed}, {U(2, kDelta, 0, 1, {1}), O::Installed}}, {1}, 2},
  };
  for (const auto& c : cases) {
    RouteSync s;
    for (size_t i = 0; i < c.steps.size(); ++i) EXPECT_EQ(s.apply(c.steps[i].update), c.steps[i].want) << c.name << " step " << i;
    EXPECT_EQ(ids(s), c.table) << c.name;
    EXPECT_EQ(s.seq(), c.seq) << c.name;
  }
}

TEST(RouteSync, CountsGapsAndBoundsWhatItHolds) {
  RouteSync s;
  EXPECT_EQ(s.apply(U(1, kDelta, 0, 1, {1})), O::Resync);
  EXPECT_TRUE(s.awaiting_resync());
  EXPECT_EQ(s.gaps(), 1u);
  RouteUpdate big{1, kSnap, 0, 2, std::vector<RouteEntry>(RouteSync::kMaxEntries, E(1)), {}};
  EXPECT_EQ(s.apply(big), O::Pending);
  EXPECT_EQ(s.apply(U(1, kSnap, 1, 2, {2})), O::Error);
  EXPECT_TRUE(s.table().empty());
}

}  // namespace
}  // namespace dialout
