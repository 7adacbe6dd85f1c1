#include "netlib/replay_window.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace dialout {
namespace {

using V = ReplayVerdict;
constexpr uint64_t W = ReplayWindow::kWindow;

static_assert(ReplayWindow::kWindow >= 2048, "the issue asks for at least 2048 records");

struct Step {
  uint64_t counter;
  ReplayVerdict verdict;
};

struct Case {
  const char* name;
  std::vector<Step> steps;
  uint64_t limit = kRecordCounterNever;
};

TEST(ReplayWindow, Table) {
  const uint64_t far = uint64_t{1} << 40;
  const Case cases[] = {
      {"in order from 0", {{0, V::Fresh}, {1, V::Fresh}, {2, V::Fresh}, {3, V::Fresh}}},
      {"counter 0 only once", {{0, V::Fresh}, {0, V::Duplicate}}},
      {"reordered within the window",
       {{5, V::Fresh}, {2, V::Fresh}, {4, V::Fresh}, {0, V::Fresh}, {3, V::Fresh}, {1, V::Fresh}}},
      {"duplicates, newest and older", {{9, V::Fresh}, {9, V::Duplicate}, {3, V::Fresh}, {3, V::Duplicate}}},
      {"window edges",
       {{W + 100, V::Fresh}, {101, V::Fresh}, {100, V::TooOld}, {101, V::Duplicate}, {0, V::TooOld}}},
      {"a gap is not a duplicate", {{0, V::Fresh}, {1000, V::Fresh}, {500, V::Fresh}, {999, V::Fresh}}},
      {"far future jump clears the window",
       {{10, V::Fresh}, {11, V::Fresh}, {far, V::Fresh}, {11, V::TooOld}, {far - 1, V::Fresh},
        {far - (W - 1), V::Fresh}, {far - W, V::TooOld}, {far, V::Duplicate}}},
      {"jump by exactly one ring keeps nothing stale",
       {{64, V::Fresh}, {64 + 64 * 64, V::Fresh}, {64 + 64 * 64 - 1, V::Fresh}, {64 + 64 * 63, V::Fresh},
        {64 + 64 * 63, V::Duplicate}}},
      {"what slid out of the window stays refused",
       {{70, V::Fresh}, {4100, V::Fresh}, {70, V::Duplicate}, {69, V::Fresh}, {68, V::TooOld}}},
      {"wrap guard: 2^64-1 is never valid",
       {{kRecordCounterNever, V::Exhausted}, {kRecordCounterNever - 1, V::Fresh},
        {kRecordCounterNever, V::Exhausted}, {kRecordCounterNever - 1, V::Duplicate},
        {kRecordCounterNever - 1 - W, V::TooOld}, {kRecordCounterNever - W, V::Fresh}}},
      {"a lower hard limit", {{99, V::Fresh}, {100, V::Exhausted}, {1000, V::Exhausted}, {98, V::Fresh}}, 100},
  };
  for (const auto& c : cases) {
    ReplayWindow w(c.limit);
    ReplayStats expected;
    for (size_t i = 0; i < c.steps.size(); ++i) {
      const auto& s = c.steps[i];
      EXPECT_EQ(w.check(s.counter), s.verdict) << c.name << ", step " << i << " (check)";
      EXPECT_EQ(w.accept(s.counter), s.verdict) << c.name << ", step " << i << ": " << to_string(s.verdict);
      switch (s.verdict) {
        case V::Fresh: ++expected.accepted; break;
        case V::Duplicate: ++expected.duplicate; break;
        case V::TooOld: ++expected.too_old; break;
        case V::Exhausted: ++expected.exhausted; break;
      }
    }
    EXPECT_EQ(w.stats().accepted, expected.accepted) << c.name;
    EXPECT_EQ(w.stats().duplicate, expected.duplicate) << c.name;
    EXPECT_EQ(w.stats().too_old, expected.too_old) << c.name;
    EXPECT_EQ(w.stats().exhausted, expected.exhausted) << c.name;
  }
}

TEST(ReplayWindow, CheckChangesNothing) {
  ReplayWindow w;
  EXPECT_EQ(w.check(5), V::Fresh);
  EXPECT_EQ(w.check(5), V::Fresh);
  EXPECT_EQ(w.newest(), 0u);
  EXPECT_EQ(w.stats().accepted, 0u);
}

// Against an exact model (every counter ever accepted, in a set) over a
// long pseudo-random mix of in-order runs, reordering, duplicates, small
// and huge jumps.
TEST(ReplayWindow, MatchesAnExactModel) {
  ReplayWindow w;
  std::set<uint64_t> seen;
  uint64_t newest = 0;
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 33;
  };
  for (int i = 0; i < 200000; ++i) {
    uint64_t r = next() % 100, counter;
    if (r < 50) counter = newest + 1;
    else if (r < 80) counter = newest - std::min<uint64_t>(newest, next() % (W + 200));  // around the window edge
    else if (r < 95) counter = newest + next() % 300;
    else if (r < 99) counter = newest + next() % (3 * W);
    else counter = newest + (next() << 8);  // a far jump
    ReplayVerdict model;
    if (seen.count(counter)) model = (counter + W > newest) ? V::Duplicate : V::TooOld;
    else if (counter > newest || newest - counter < W) model = V::Fresh;
    else model = V::TooOld;
    ASSERT_EQ(w.accept(counter), model) << "step " << i << " counter " << counter << " newest " << newest;
    if (model == V::Fresh) {
      seen.insert(counter);
      newest = std::max(newest, counter);
    }
    // Keep the model small: what is out of the window can never be fresh again.
    while (!seen.empty() && *seen.begin() + 2 * W < newest) seen.erase(seen.begin());
  }
  EXPECT_GT(w.stats().duplicate, 100u);
  EXPECT_GT(w.stats().too_old, 1000u);
}

}  // namespace
}  // namespace dialout
