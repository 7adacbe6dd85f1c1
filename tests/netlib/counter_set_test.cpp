#include "netlib/counter_set.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace dialout {
namespace {

enum class Demo { Frames, Drops, Count };
constexpr std::array<CounterInfo, 2> kDemoTable{{{"frames", "frames seen"}, {"drops", "frames dropped"}}};

TEST(CounterSet, AddsPerCounterAndRendersRowsInTableOrder) {
  CounterSet<Demo> c;
  c.add(Demo::Frames);
  c.add(Demo::Frames, 4);
  c.add(Demo::Drops, 2);
  EXPECT_EQ(c.get(Demo::Frames), 5u);
  EXPECT_EQ(c.get(Demo::Drops), 2u);
  auto rows = counter_rows(kDemoTable, c.snapshot());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::pair<std::string_view, uint64_t>{"frames", 5}));
  EXPECT_EQ(rows[1], (std::pair<std::string_view, uint64_t>{"drops", 2}));
}

TEST(CounterSet, TotalsSumSetsWrittenByTheirOwnThreads) {
  CounterSet<Demo> a, b;
  std::thread ta([&] { for (int i = 0; i < 100000; ++i) a.add(Demo::Frames); });
  std::thread tb([&] { for (int i = 0; i < 100000; ++i) b.add(Demo::Frames); });
  ta.join();
  tb.join();
  CounterSet<Demo>::Values total{};
  a.accumulate(total);
  b.accumulate(total);
  EXPECT_EQ(total[size_t(Demo::Frames)], 200000u);
  EXPECT_EQ(total[size_t(Demo::Drops)], 0u);
}

}  // namespace
}  // namespace dialout
