#include "netlib/backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace dialout {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, BoundsHoldOverManyDraws) {
  for (uint64_t seed : {0ull, 1ull, 42ull, 0xffffffffffffffffull}) {
    Backoff b(milliseconds(100), milliseconds(30000), seed);
    for (int i = 0; i < 10000; ++i) {
      auto d = b.next();
      ASSERT_GE(d, milliseconds(100));
      ASSERT_LE(d, milliseconds(30000));
      if (i % 50 == 49) b.reset();
    }
  }
}

TEST(Backoff, Grows) {
  Backoff b(milliseconds(100), milliseconds(30000), 7);
  EXPECT_EQ(b.next(), milliseconds(100));  // ceiling starts at min
  milliseconds last{};
  for (int i = 0; i < 20; ++i) last = b.next();
  // Equal jitter guarantees half the ceiling, and the ceiling is at max by now.
  EXPECT_GE(last, milliseconds(15000));
}

TEST(Backoff, ResetStartsOver) {
  Backoff b(milliseconds(100), milliseconds(30000), 9);
  for (int i = 0; i < 20; ++i) (void)b.next();
  b.reset();
  EXPECT_EQ(b.next(), milliseconds(100));
  auto second = b.next();
  EXPECT_GE(second, milliseconds(100));
  EXPECT_LE(second, milliseconds(200));
}

TEST(Backoff, DifferentSeedsDiffer) {
  Backoff a(milliseconds(100), milliseconds(60000), 1);
  Backoff b(milliseconds(100), milliseconds(60000), 2);
  Backoff a2(milliseconds(100), milliseconds(60000), 1);
  int differ = 0;
  for (int i = 0; i < 30; ++i) {
    auto x = a.next();
    EXPECT_EQ(x, a2.next());  // same seed, same sequence
    if (x != b.next()) ++differ;
  }
  EXPECT_GT(differ, 20);
}

TEST(Backoff, DegenerateArguments) {
  Backoff zero(milliseconds(0), milliseconds(1000), 3);  // still grows from 1 ms
  for (int i = 0; i < 20; ++i) (void)zero.next();
  EXPECT_GE(zero.next(), milliseconds(500));
  Backoff inverted(milliseconds(500), milliseconds(100), 3);  // max raised to min
  for (int i = 0; i < 10; ++i) EXPECT_EQ(inverted.next(), milliseconds(500));
  Backoff huge(milliseconds(1), milliseconds::max(), 3);  // no overflow when doubling
  for (int i = 0; i < 100; ++i) EXPECT_GE(huge.next(), milliseconds(1));
}

}  // namespace
}  // namespace dialout
