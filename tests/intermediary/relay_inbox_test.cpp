#include "intermediary/relay_inbox.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace dialout {
namespace {

std::vector<uint8_t> frame(uint8_t fill, size_t n) { return std::vector<uint8_t>(n, fill); }

struct Got {
  SessionId to;
  std::vector<uint8_t> bytes;
};

std::vector<Got> drain_all(RelayInbox& inbox) {
  std::vector<Got> got;
  inbox.drain([&](const InboxFrame& m, std::span<uint8_t> f) { got.push_back({m.to, {f.begin(), f.end()}}); });
  return got;
}

TEST(RelayInbox, DeliversFramesInOrderWithTheirSession) {
  RelayInbox inbox(1024, 16);
  ASSERT_TRUE(inbox.post(InboxFrame{7}, frame(1, 10)).ok);
  ASSERT_TRUE(inbox.post(InboxFrame{9}, frame(2, 20)).ok);
  auto got = drain_all(inbox);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].to, 7u);
  EXPECT_EQ(got[0].bytes, frame(1, 10));
  EXPECT_EQ(got[1].to, 9u);
  EXPECT_EQ(got[1].bytes, frame(2, 20));
  EXPECT_TRUE(drain_all(inbox).empty());
}

TEST(RelayInbox, WakesOncePerBatch) {
  RelayInbox inbox(1024, 16);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 8)).wake);
  EXPECT_FALSE(inbox.post(InboxFrame{1}, frame(1, 8)).wake);
  EXPECT_FALSE(inbox.post(InboxFrame{2}, frame(1, 8)).wake);
  drain_all(inbox);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 8)).wake);  // a new batch
  EXPECT_FALSE(inbox.post(InboxFrame{1}, frame(1, 8)).wake);
}

TEST(RelayInbox, DrainWithNothingQueuedStillRearmsTheWake) {
  RelayInbox inbox(1024, 16);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 8)).wake);
  drain_all(inbox);
  EXPECT_EQ(drain_all(inbox).size(), 0u);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 8)).wake);
}

TEST(RelayInbox, FullInBytesDropsAndCounts) {
  RelayInbox inbox(100, 16);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 60)).ok);
  auto r = inbox.post(InboxFrame{1}, frame(2, 41));
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.wake);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(3, 40)).ok);  // exactly fills it
  EXPECT_FALSE(inbox.post(InboxFrame{1}, frame(4, 1)).ok);
  EXPECT_EQ(inbox.dropped(), 2u);
  auto got = drain_all(inbox);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].bytes, frame(3, 40));
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(5, 100)).ok);  // drained: room again
}

TEST(RelayInbox, FullInFramesDropsAndCounts) {
  RelayInbox inbox(1024, 2);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 1)).ok);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 1)).ok);
  EXPECT_FALSE(inbox.post(InboxFrame{1}, frame(1, 1)).ok);
  EXPECT_EQ(inbox.dropped(), 1u);
  EXPECT_EQ(drain_all(inbox).size(), 2u);
}

TEST(RelayInbox, ControlEntriesAndClosesPassAFullDataInboxInOrder) {
  RelayInbox inbox(100, 2);
  ASSERT_TRUE(inbox.post(InboxFrame{1}, frame(1, 60)).ok);
  ASSERT_TRUE(inbox.post(InboxFrame{1}, frame(2, 40)).ok);
  EXPECT_FALSE(inbox.post(InboxFrame{1}, frame(3, 1)).ok) << "DATA is full in bytes and frames";
  // Route snapshots, PEER_GONE and closes must not be lost to a DATA flood.
  EXPECT_TRUE(inbox.post(InboxFrame{2, 0, 0, 0, InboxKind::Control}, frame(4, 500)).ok);
  EXPECT_TRUE(inbox.post(InboxFrame{3, 0, 0, 0, InboxKind::Close}, frame('x', 3)).ok);
  EXPECT_FALSE(inbox.post(InboxFrame{1}, frame(5, 1)).ok) << "control bytes do not make room for DATA";
  std::vector<InboxKind> kinds;
  inbox.drain([&](const InboxFrame& m, std::span<uint8_t>) { kinds.push_back(m.kind); });
  EXPECT_EQ(kinds, (std::vector<InboxKind>{InboxKind::Data, InboxKind::Data, InboxKind::Control, InboxKind::Close}));
  EXPECT_EQ(inbox.dropped(), 2u);
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(6, 100)).ok) << "drained: the DATA bound is whole again";
}

TEST(RelayInbox, ControlEntriesHaveTheirOwnBound) {
  RelayInbox inbox(16, 4);
  std::vector<uint8_t> big(RelayInbox::kControlBytes / 2, 7);
  EXPECT_TRUE(inbox.post(InboxFrame{1, 0, 0, 0, InboxKind::Control}, big).ok);
  EXPECT_TRUE(inbox.post(InboxFrame{1, 0, 0, 0, InboxKind::Control}, big).ok);
  EXPECT_FALSE(inbox.post(InboxFrame{1, 0, 0, 0, InboxKind::Close}, frame(1, 1)).ok) << "a hopelessly stuck owner";
  EXPECT_TRUE(inbox.post(InboxFrame{1}, frame(1, 16)).ok) << "DATA is bounded separately";
  EXPECT_EQ(drain_all(inbox).size(), 3u);
}

TEST(RelayInbox, PostFromInsideDrainWaitsForTheNextBatch) {
  RelayInbox inbox(1024, 16);
  inbox.post(InboxFrame{1}, frame(1, 4));
  bool rewake = false;
  size_t n = inbox.drain([&](const InboxFrame&, std::span<uint8_t>) { rewake = inbox.post(InboxFrame{2}, frame(2, 4)).wake; });
  EXPECT_EQ(n, 1u);
  EXPECT_TRUE(rewake);
  auto got = drain_all(inbox);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].to, 2u);
}

// Under TSan: producers and the consumer share only what the mutex guards.
TEST(RelayInbox, ManyProducersOneConsumerLoseNothingButTheCountedDrops) {
  RelayInbox inbox(4096, 64);
  constexpr int kPerProducer = 2000;
  std::atomic<uint64_t> posted{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p)
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i)
        if (inbox.post(InboxFrame{SessionId(p)}, frame(uint8_t(p), 16)).ok) posted.fetch_add(1);
    });
  uint64_t received = 0;
  std::atomic<int> done{0};
  std::thread consumer([&] {
    while (done.load() == 0) received += drain_all(inbox).size();
  });
  for (auto& t : producers) t.join();
  done.store(1);
  consumer.join();
  received += drain_all(inbox).size();
  EXPECT_EQ(received, posted.load());
  EXPECT_EQ(received + inbox.dropped(), uint64_t(3 * kPerProducer));
}

}  // namespace
}  // namespace dialout
