#include "netlib/send_queue.hpp"

#include <gtest/gtest.h>

#include "netlib/wire.hpp"

namespace dialout {
namespace {

// A data frame whose first payload byte is `tag`, `body` bytes long.
std::vector<uint8_t> data_frame(uint8_t tag, size_t body) {
  std::vector<uint8_t> f(kDataFrameOverhead + body, tag);
  write_data_headers(std::span(f).first<kDataFrameOverhead>(), DataHeader{1, 0, 0}, body);
  return f;
}

// Drains the queue as TLS would, in writes of `chunk` bytes, and returns the tags in order.
std::vector<uint8_t> drain(SendQueue& q, size_t chunk) {
  std::vector<uint8_t> bytes;
  for (int guard = 0; guard < 100000 && !q.empty(); ++guard) {
    auto p = q.pending();
    size_t n = std::min(chunk, p.size());
    bytes.insert(bytes.end(), p.begin(), p.begin() + n);
    q.consume(n);
  }
  std::vector<uint8_t> tags;
  std::span<const uint8_t> rest(bytes);
  while (!rest.empty()) {
    auto f = next_frame(rest);
    EXPECT_TRUE(f.has_value() && f->has_value()) << "stream of whole frames";
    if (!f.has_value() || !f->has_value()) break;
    tags.push_back((*f)->payload[kDataHeaderSize]);
    rest = rest.subspan((*f)->size());
  }
  return tags;
}

TEST(SendQueue, UrgentGoesFirstAndOrderHoldsWithinALane) {
  SendQueue q({.bulk_bytes = 1 << 20, .urgent_bytes = 1 << 20, .batch_bytes = 1 << 20});
  for (uint8_t t : {1, 2, 3}) ASSERT_TRUE(q.push(SendQueue::Lane::Bulk, data_frame(t, 1000)).ok);
  for (uint8_t t : {10, 11}) ASSERT_TRUE(q.push(SendQueue::Lane::Urgent, data_frame(t, 40)).ok);
  EXPECT_EQ(drain(q, 7), (std::vector<uint8_t>{10, 11, 1, 2, 3}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST(SendQueue, BulkDropsOldestWholeFramesWhenFull) {
  const size_t frame = kDataFrameOverhead + 1000;
  SendQueue q({.bulk_bytes = 3 * frame, .urgent_bytes = 1 << 20, .batch_bytes = 1 << 20});
  size_t dropped = 0;
  for (uint8_t t = 1; t <= 5; ++t) dropped += q.push(SendQueue::Lane::Bulk, data_frame(t, 1000)).dropped;
  EXPECT_EQ(dropped, 2u);
  EXPECT_LE(q.queued_bytes(), 3 * frame);
  EXPECT_EQ(drain(q, 1 << 20), (std::vector<uint8_t>{3, 4, 5}));
}

TEST(SendQueue, BytesHandedToTlsNeverChangeUntilConsumed) {
  const size_t frame = kDataFrameOverhead + 1000;
  SendQueue q({.bulk_bytes = 2 * frame, .urgent_bytes = 1 << 20, .batch_bytes = 2 * frame});
  q.push(SendQueue::Lane::Bulk, data_frame(1, 1000));
  q.push(SendQueue::Lane::Bulk, data_frame(2, 1000));
  auto first = q.pending();
  std::vector<uint8_t> snapshot(first.begin(), first.end());
  q.consume(10);  // a partial write: the rest must stay exactly as it was
  for (uint8_t t = 3; t <= 6; ++t) q.push(SendQueue::Lane::Bulk, data_frame(t, 1000));
  q.push(SendQueue::Lane::Urgent, data_frame(9, 10));
  auto again = q.pending();
  ASSERT_EQ(again.size(), snapshot.size() - 10);
  EXPECT_TRUE(std::equal(again.begin(), again.end(), snapshot.begin() + 10));
  q.consume(again.size());
  EXPECT_EQ(drain(q, 1 << 20), (std::vector<uint8_t>{9, 5, 6}));
}

// The intermediary's workers rely on this (intermediary/relay_io.cpp): the
// owner writes the pending() batch with the relay lock released while other
// threads push into both lanes (with head drops and compaction). Those
// pushes must leave the batch's bytes and their address untouched.
TEST(SendQueue, PendingBatchStaysPutWhileOthersPush) {
  const size_t frame = kDataFrameOverhead + 1000;
  SendQueue q({.bulk_bytes = 3 * frame, .urgent_bytes = 1 << 20, .batch_bytes = 2 * frame});
  q.push(SendQueue::Lane::Bulk, data_frame(1, 1000));
  q.push(SendQueue::Lane::Bulk, data_frame(2, 1000));
  auto batch = q.pending();
  const uint8_t* where = batch.data();
  std::vector<uint8_t> snapshot(batch.begin(), batch.end());
  for (uint8_t t = 10; t < 60; ++t) {
    q.push(SendQueue::Lane::Bulk, data_frame(t, 1000));  // drops older bulk frames, compacts the lane
    q.push(SendQueue::Lane::Urgent, data_frame(t, 20));
    auto room = q.reserve(SendQueue::Lane::Bulk, frame);
    auto built = data_frame(uint8_t(t + 100), 1000);
    std::copy(built.begin(), built.end(), room.begin());
    q.commit(SendQueue::Lane::Bulk, built.size());
  }
  EXPECT_TRUE(std::equal(batch.begin(), batch.end(), snapshot.begin(), snapshot.end()))
      << "the batch's bytes did not change";
  auto again = q.pending();
  EXPECT_EQ(again.data(), where) << "nor did their address";
  EXPECT_EQ(again.size(), snapshot.size());
  q.consume(again.size());
  EXPECT_FALSE(q.empty()) << "what was pushed meanwhile waits for the next batch";
}

TEST(SendQueue, InPlaceReserveCommitDropsOnlyOlderFrames) {
  const size_t frame = kDataFrameOverhead + 100;
  SendQueue q({.bulk_bytes = 2 * frame, .urgent_bytes = 1 << 20, .batch_bytes = 1 << 20});
  size_t dropped = 0;
  for (uint8_t t = 1; t <= 4; ++t) {
    auto room = q.reserve(SendQueue::Lane::Bulk, kMaxFrameSize);
    auto f = data_frame(t, 100);
    std::copy(f.begin(), f.end(), room.begin());
    dropped += q.commit(SendQueue::Lane::Bulk, f.size()).dropped;
  }
  EXPECT_EQ(dropped, 2u);
  EXPECT_EQ(drain(q, 50), (std::vector<uint8_t>{3, 4}));
}

TEST(SendQueue, UrgentOverflowIsReportedNotDropped) {
  const size_t frame = kDataFrameOverhead + 100;
  SendQueue q({.bulk_bytes = 1 << 20, .urgent_bytes = 2 * frame, .batch_bytes = 1 << 20});
  EXPECT_TRUE(q.push(SendQueue::Lane::Urgent, data_frame(1, 100)).ok);
  EXPECT_TRUE(q.push(SendQueue::Lane::Urgent, data_frame(2, 100)).ok);
  EXPECT_FALSE(q.push(SendQueue::Lane::Urgent, data_frame(3, 100)).ok);
  EXPECT_EQ(q.lane_bytes(SendQueue::Lane::Urgent), 2 * frame);
  EXPECT_EQ(q.lane_bytes(SendQueue::Lane::Bulk), 0u);
  EXPECT_EQ(q.limits().urgent_bytes, 2 * frame);
  EXPECT_EQ(drain(q, 1 << 20), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(q.lane_bytes(SendQueue::Lane::Urgent), 0u);
}

TEST(SendQueue, BatchesAreBoundedButAlwaysProgress) {
  SendQueue q({.bulk_bytes = 1 << 20, .urgent_bytes = 1 << 20, .batch_bytes = 100});
  q.push(SendQueue::Lane::Bulk, data_frame(1, 1000));  // larger than a batch: still goes alone
  q.push(SendQueue::Lane::Bulk, data_frame(2, 10));
  EXPECT_EQ(q.pending().size(), kDataFrameOverhead + 1000);
  q.trim();  // not empty: must keep everything
  EXPECT_EQ(drain(q, 1 << 20), (std::vector<uint8_t>{1, 2}));
  q.trim();
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace dialout
