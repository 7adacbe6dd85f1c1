#include "netlib/channel.hpp"

#include <gtest/gtest.h>

#include "tests/support/fake_transport.hpp"

namespace dialout {
namespace {

std::vector<uint8_t> ping_frame(uint64_t token) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(encode(Ping{token}, out));
  return out;
}

struct Pair {
  Channel channel;
  UniqueFd peer;
};
Pair make_pair() {
  auto [t, peer] = FakeTransport::make();
  return Pair{Channel(std::move(t), Channel::limits_for(64 * 1024)), std::move(peer)};
}

TEST(Channel, HandsOverEveryWholeFrameAndKeepsAPartialOne) {
  auto p = make_pair();
  auto bytes = ping_frame(1);
  auto second = ping_frame(2);
  bytes.insert(bytes.end(), second.begin(), second.end());
  bytes.insert(bytes.end(), second.begin(), second.begin() + 5);  // a third, cut short
  ASSERT_TRUE(write_all(p.peer.get(), bytes));
  std::vector<uint64_t> tokens;
  auto out = p.channel.read_frames(
      [&](const FrameView& f) {
        tokens.push_back(decode_ping(f.payload)->token);
        return true;
      },
      1 << 20);
  EXPECT_EQ(out.status, Channel::ReadStatus::WouldBlock);
  EXPECT_EQ(tokens, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(p.channel.has_partial_frame());
  p.peer.reset();
  out = p.channel.read_frames([&](const FrameView&) { return true; }, 1 << 20);
  EXPECT_EQ(out.status, Channel::ReadStatus::Closed);
}

TEST(Channel, AnImpossibleLengthEndsTheStreamBeforeBuffering) {
  auto p = make_pair();
  // A DATA header announcing more than the largest frame.
  ASSERT_TRUE(write_all(p.peer.get(), {uint8_t(MsgType::Data), 0xff, 0xff, 0xff}));
  auto out = p.channel.read_frames([&](const FrameView&) { return true; }, 1 << 20);
  EXPECT_EQ(out.status, Channel::ReadStatus::Malformed);
  EXPECT_EQ(out.wire_error, WireError::Oversized);
}

TEST(Channel, FlushesQueuedFramesToThePeer) {
  auto p = make_pair();
  auto frame = ping_frame(7);
  ASSERT_TRUE(p.channel.queue().push(SendQueue::Lane::Urgent, frame).ok);
  EXPECT_NE(p.channel.epoll_events() & EPOLLOUT, 0u) << "something waits: ask for writability";
  EXPECT_EQ(p.channel.flush(), Channel::FlushStatus::Done);
  EXPECT_EQ(p.channel.epoll_events() & EPOLLOUT, 0u);
  EXPECT_EQ(read_available(p.peer.get()), frame);
}

}  // namespace
}  // namespace dialout
