// SiteSession timers: keepalive, dead-after, handshake timeout, backoff.
#include "tund/site_session.hpp"

#include <gtest/gtest.h>

#include "tests/tund/site_session_harness.hpp"

namespace dialout {
namespace {

using namespace site_session_test;

TEST(SiteSession, KeepaliveGoesOutExactlyAfterKeepaliveOfSilence) {
  Harness h;
  h.connect();
  auto ready_at = h.now;
  EXPECT_TRUE(sent_types(h.tick_at(ready_at + kKeepalive - 1ms)).empty()) << "not before the edge";
  auto a = h.tick_at(ready_at + kKeepalive);
  ASSERT_EQ(sent_types(a), std::vector<MsgType>{MsgType::Ping});
  auto first = decode_ping(frame_of(all<SiteSession::Send>(a)[0].frame).payload)->token;
  // One per interval while silence lasts, not one per tick.
  EXPECT_TRUE(sent_types(h.tick_at(ready_at + 2 * kKeepalive - 1ms)).empty());
  a = h.tick_at(ready_at + 2 * kKeepalive);
  ASSERT_EQ(sent_types(a), std::vector<MsgType>{MsgType::Ping});
  EXPECT_NE(decode_ping(frame_of(all<SiteSession::Send>(a)[0].frame).payload)->token, first);
  // Anything received restarts the silence.
  auto heard = ready_at + 2 * kKeepalive + 300ms;
  h.session.received(heard);
  EXPECT_TRUE(sent_types(h.tick_at(heard + kKeepalive - 1ms)).empty());
  EXPECT_EQ(sent_types(h.tick_at(heard + kKeepalive)), std::vector<MsgType>{MsgType::Ping});
}

TEST(SiteSession, RttIsTheAnswerToTheLatestPing) {
  Harness h;
  h.connect();
  EXPECT_FALSE(h.session.rtt()) << "nothing measured yet";
  h.feed(Pong{0});  // a PONG nobody asked for measures nothing
  EXPECT_FALSE(h.session.rtt());
  auto sent_at = h.now + kKeepalive;
  auto a = h.tick_at(sent_at);
  auto token = decode_ping(frame_of(all<SiteSession::Send>(a)[0].frame).payload)->token;
  h.now = sent_at + 7ms;
  h.feed(Pong{token + 1});  // not ours
  EXPECT_FALSE(h.session.rtt());
  h.feed(Pong{token});
  ASSERT_TRUE(h.session.rtt());
  EXPECT_EQ(*h.session.rtt(), std::chrono::microseconds(7000));
  h.now += 50ms;
  h.feed(Pong{token});  // a repeat does not overwrite it
  EXPECT_EQ(*h.session.rtt(), std::chrono::microseconds(7000));
}

TEST(SiteSession, DeadExactlyAfterDeadAfterOfSilence) {
  Harness h;
  h.connect();
  auto heard = h.now + 500ms;
  h.now = heard;
  h.feed(Pong{1});
  auto a = h.tick_at(heard + kDeadAfter - 1ms);
  EXPECT_FALSE(one<SiteSession::Close>(a)) << "not before the edge";
  EXPECT_TRUE(h.session.ready());
  a = h.tick_at(heard + kDeadAfter);
  auto close = one<SiteSession::Close>(a);
  ASSERT_TRUE(close);
  EXPECT_TRUE(close->was_ready);
  EXPECT_NE(close->why.find("nothing heard for 3000 ms"), std::string::npos);
  EXPECT_TRUE(one<SiteSession::ReconnectAfter>(a));
  EXPECT_EQ(h.session.state(), State::Waiting);
}

TEST(SiteSession, HandshakeTimesOutInEachStageOfSetUp) {
  // How far set-up got before the intermediary went quiet.
  for (int stage = 0; stage < 3; ++stage) {
    SCOPED_TRACE(stage);
    Harness h;
    auto t0 = h.now;
    h.session.start(h.now);
    h.now += 100ms;
    if (stage >= 1) h.session.transport_up(h.now, false);
    if (stage >= 2) h.feed(Hello{});
    h.take();
    EXPECT_FALSE(one<SiteSession::Close>(h.tick_at(t0 + kHandshake - 1ms)));
    auto a = h.tick_at(t0 + kHandshake);
    auto close = one<SiteSession::Close>(a);
    ASSERT_TRUE(close) << "the timeout covers the whole set-up, from the dial";
    EXPECT_FALSE(close->was_ready);
    EXPECT_NE(close->why.find("no answer"), std::string::npos);
    EXPECT_TRUE(one<SiteSession::ReconnectAfter>(a));
  }
}

TEST(SiteSession, BackoffGrowsWithinBoundsJitteredAndResetsOnceReady) {
  auto delays_for = [](uint64_t seed) {
    Harness h(settings(seed));
    h.session.start(h.now);
    h.take();
    std::vector<std::chrono::milliseconds> d;
    for (int i = 0; i < 12; ++i) d.push_back(h.fail_and_retry());
    return d;
  };
  auto a = delays_for(1), b = delays_for(2);
  auto ceiling = kMin;
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    auto lo = std::max(kMin, ceiling / 2);
    EXPECT_GE(a[i], lo);
    EXPECT_LE(a[i], ceiling);
    EXPECT_GE(b[i], lo);
    EXPECT_LE(b[i], ceiling);
    ceiling = std::min(kMax, ceiling * 2);
  }
  EXPECT_EQ(a.back() <= kMax, true);
  EXPECT_NE(a, b) << "jittered: two sites do not reconnect in lockstep";
  EXPECT_EQ(delays_for(1), a) << "deterministic for a seed";

  Harness h;
  h.session.start(h.now);
  h.take();
  for (int i = 0; i < 6; ++i) h.fail_and_retry();
  h.connect();
  EXPECT_EQ(h.fail_and_retry(), kMin) << "reset once ready";
}

}  // namespace
}  // namespace dialout
