#include "intermediary/handshake_gate.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

std::vector<SessionId> release(HandshakeGate& g, uint64_t turn) {
  std::vector<SessionId> out;
  g.release(turn, out);
  return out;
}

TEST(HandshakeGate, WithoutAStormEveryStepRunsAtOnce) {
  HandshakeGate g(2);
  for (uint64_t turn = 1; turn <= 100; ++turn) {
    EXPECT_TRUE(g.admit(turn, turn));
    EXPECT_TRUE(g.admit(1000 + turn, turn));
  }
  EXPECT_EQ(g.waiting(), 0u);
  EXPECT_TRUE(release(g, 101).empty());
}

TEST(HandshakeGate, AtMostPerTurnStepsRunInOneTurnTheRestInArrivalOrder) {
  HandshakeGate g(2);
  EXPECT_TRUE(g.admit(1, 7));
  EXPECT_TRUE(g.admit(2, 7));
  EXPECT_FALSE(g.admit(3, 7));
  EXPECT_FALSE(g.admit(4, 7));
  EXPECT_FALSE(g.admit(5, 7));
  EXPECT_EQ(g.waiting(), 3u);
  EXPECT_TRUE(g.is_waiting(3));
  EXPECT_TRUE(release(g, 7).empty()) << "turn 7 spent its steps";
  EXPECT_EQ(release(g, 8), (std::vector<SessionId>{3, 4}));
  EXPECT_EQ(release(g, 9), (std::vector<SessionId>{5}));
  EXPECT_EQ(g.waiting(), 0u);
}

TEST(HandshakeGate, NewcomersQueueBehindTheWaitingEvenInAFreshTurn) {
  HandshakeGate g(1);
  EXPECT_TRUE(g.admit(1, 1));
  EXPECT_FALSE(g.admit(2, 1));
  // Turn 2: the fds come first; 3 must not overtake 2.
  EXPECT_FALSE(g.admit(3, 2));
  EXPECT_EQ(release(g, 2), (std::vector<SessionId>{2}));
  EXPECT_EQ(release(g, 3), (std::vector<SessionId>{3}));
}

TEST(HandshakeGate, StepsRunByAdmitCountAgainstTheTurnsRelease) {
  HandshakeGate g(3);
  EXPECT_TRUE(g.admit(1, 1));
  EXPECT_TRUE(g.admit(2, 1));
  EXPECT_TRUE(g.admit(3, 1));
  EXPECT_FALSE(g.admit(4, 1));
  EXPECT_FALSE(g.admit(5, 1));
  EXPECT_FALSE(g.admit(6, 1));
  EXPECT_FALSE(g.admit(7, 1));
  EXPECT_FALSE(g.admit(8, 2));  // queued behind, and takes nothing from turn 2
  EXPECT_EQ(release(g, 2), (std::vector<SessionId>{4, 5, 6}));
  EXPECT_EQ(release(g, 2), std::vector<SessionId>{}) << "one turn, one budget";
  EXPECT_EQ(release(g, 3), (std::vector<SessionId>{7, 8}));
}

TEST(HandshakeGate, AWaitingSessionIsQueuedOnceAndAForgottenOneNeverReleased) {
  HandshakeGate g(1);
  EXPECT_TRUE(g.admit(1, 1));
  EXPECT_FALSE(g.admit(2, 1));
  EXPECT_FALSE(g.admit(2, 1));  // its socket again: still one place
  EXPECT_FALSE(g.admit(3, 1));
  EXPECT_FALSE(g.admit(4, 1));
  g.forget(2);  // closed while waiting
  g.forget(99);  // never known: no effect
  EXPECT_EQ(g.waiting(), 2u);
  EXPECT_EQ(release(g, 2), (std::vector<SessionId>{3}));
  EXPECT_EQ(release(g, 3), (std::vector<SessionId>{4}));
  EXPECT_EQ(g.waiting(), 0u);
  // Empty again: the next one runs at once.
  EXPECT_TRUE(g.admit(5, 4));
}

TEST(HandshakeGate, ForgottenThenReadmittedIsReleasedOnce) {
  HandshakeGate g(1);
  EXPECT_TRUE(g.admit(1, 1));
  EXPECT_FALSE(g.admit(2, 1));
  EXPECT_FALSE(g.admit(3, 1));
  g.forget(2);
  EXPECT_FALSE(g.admit(2, 1));
  EXPECT_EQ(release(g, 2).size(), 1u);
  EXPECT_EQ(release(g, 3).size(), 1u);
  EXPECT_EQ(g.waiting(), 0u);
  EXPECT_TRUE(release(g, 4).empty()) << "its old place in the order releases nothing";
}

TEST(HandshakeGate, ZeroPerTurnMeansOne) {
  HandshakeGate g(0);
  EXPECT_EQ(g.per_turn(), 1u);
  EXPECT_TRUE(g.admit(1, 1));
  EXPECT_FALSE(g.admit(2, 1));
}

}  // namespace
}  // namespace dialout
