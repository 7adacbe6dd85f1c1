#include "netlib/mailbox.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>
#include <vector>

namespace dialout {
namespace {

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

Mailbox<int> make(size_t capacity) { return Mailbox<int>(std::move(*EventFd::create()), capacity); }

TEST(Mailbox, PostWakesTheConsumerAndDrainHandsOverInOrder) {
  auto box = make(8);
  EXPECT_FALSE(readable(box.fd()));
  ASSERT_TRUE(box.post(1));
  ASSERT_TRUE(box.post(2));
  EXPECT_TRUE(readable(box.fd()));
  std::vector<int> got;
  EXPECT_EQ(box.drain([&](int v) { got.push_back(v); }), 2u);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_FALSE(readable(box.fd())) << "drained: no spurious wake-up";
}

TEST(Mailbox, FullMailboxDropsTheNewMessageAndCountsIt) {
  auto box = make(2);
  EXPECT_TRUE(box.post(1));
  EXPECT_TRUE(box.post(2));
  EXPECT_FALSE(box.post(3));
  EXPECT_EQ(box.dropped(), 1u);
  std::vector<int> got;
  box.drain([&](int v) { got.push_back(v); });
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_TRUE(box.post(4)) << "room again after a drain";
}

TEST(Mailbox, ManyProducersLoseNothingWithinTheBound) {
  constexpr int kThreads = 4, kEach = 200;
  auto box = make(kThreads * kEach);
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t)
    producers.emplace_back([&box, t] {
      for (int i = 0; i < kEach; ++i) box.post(t * kEach + i);
    });
  std::vector<int> got;
  auto take = [&] { box.drain([&](int v) { got.push_back(v); }); };
  while (got.size() < size_t(kThreads * kEach)) {
    pollfd p{box.fd(), POLLIN, 0};
    ASSERT_GE(::poll(&p, 1, 2000), 1) << "a post always wakes the consumer";
    take();
  }
  for (auto& p : producers) p.join();
  take();
  EXPECT_EQ(got.size(), size_t(kThreads * kEach));
  EXPECT_EQ(box.dropped(), 0u);
  // Per producer, order is kept.
  std::vector<int> last(kThreads, -1);
  for (int v : got) {
    EXPECT_GT(v, last[size_t(v / kEach)]);
    last[size_t(v / kEach)] = v;
  }
}

}  // namespace
}  // namespace dialout
