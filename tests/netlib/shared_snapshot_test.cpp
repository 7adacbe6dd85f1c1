#include "netlib/shared_snapshot.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace dialout {
namespace {

TEST(SharedSnapshot, ReadersSeeTheNewestSnapshotAndKeepTheOldOneAlive) {
  SharedSnapshot<std::vector<int>> s;
  EXPECT_EQ(s.generation(), 0u);
  EXPECT_EQ(s.get().first, nullptr);
  s.publish(std::make_shared<const std::vector<int>>(std::vector<int>{1}));
  auto [first, g1] = s.get();
  EXPECT_EQ(g1, 1u);
  s.publish(std::make_shared<const std::vector<int>>(std::vector<int>{2, 2}));
  EXPECT_EQ(s.generation(), 2u);
  EXPECT_EQ(*first, std::vector<int>{1}) << "a held snapshot is never changed";
  EXPECT_EQ(s.get().first->size(), 2u);
}

TEST(SharedSnapshot, AReaderThreadOnlyEverSeesWholeSnapshots) {
  SharedSnapshot<std::vector<int>> s;
  s.publish(std::make_shared<const std::vector<int>>(std::vector<int>(8, 0)));
  std::thread reader([&] {
    uint64_t seen = 0;
    while (seen < 500) {
      if (s.generation() == seen) continue;
      auto [v, g] = s.get();
      seen = g;
      for (int x : *v) ASSERT_EQ(x, (*v)[0]) << "all elements from one publish";
    }
  });
  for (int i = 1; i <= 500; ++i) s.publish(std::make_shared<const std::vector<int>>(std::vector<int>(8, i)));
  reader.join();
}

}  // namespace
}  // namespace dialout
