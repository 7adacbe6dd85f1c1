#include "tund/pmtu_search.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Change = PmtuSearch::Change;

// A path that carries packets of up to `mtu` bytes and answers after `rtt`;
// `lose` drops that many of the next probes whatever their size.
struct FakePath {
  size_t mtu = 1500;
  int lose = 0;
  Clock::duration rtt = 20ms;
};

struct Harness {
  PmtuSearch search;
  FakePath path;
  Clock::time_point now = Clock::time_point{} + 1h;
  struct Ack {
    Clock::time_point at;
    size_t size;
  };
  std::vector<Ack> acks;
  std::vector<Change> changes;
  int probes = 0;

  explicit Harness(PmtuSettings s = {}) : search(s) {}

  void run_for(Clock::duration d) {
    const auto end = now + d;
    for (int guard = 0; guard < 100000 && now < end; ++guard) {
      while (auto size = search.take_probe(now)) {
        ++probes;
        if (path.lose > 0) --path.lose;
        else if (*size <= path.mtu) acks.push_back({now + path.rtt, *size});
      }
      auto next = std::min(search.deadline(), end);
      for (const auto& a : acks) next = std::min(next, a.at);
      now = std::max(now, next);
      for (auto it = acks.begin(); it != acks.end();) {
        if (it->at <= now) {
          note(search.on_ack(it->size, now));
          it = acks.erase(it);
        } else {
          ++it;
        }
      }
      note(search.tick(now));
    }
  }
  void note(Change c) {
    if (c != Change::None) changes.push_back(c);
  }
  // Runs until the search completes; how long it took.
  Clock::duration converge(Clock::duration limit = 120s) {
    auto start = now;
    while (search.state() != PmtuSearch::State::Complete && now - start < limit) run_for(10ms);
    return now - start;
  }
};

TEST(PmtuSearch, ConvergesToTheExactPathMtu) {
  struct Case {
    size_t max_mtu, path_mtu;
    Clock::duration within;
  };
  const Case cases[] = {
      {1500, 1500, 1s},  {1500, 1499, 60s}, {1500, 1492, 60s}, {1500, 1472, 60s}, {1500, 1420, 60s},
      {1500, 1400, 60s}, {1500, 1280, 60s}, {1500, 1201, 60s}, {1500, 1200, 60s}, {9000, 9000, 1s},
      {9000, 8972, 90s}, {9000, 4000, 90s}, {65535, 1500, 120s},
  };
  for (const auto& c : cases) {
    PmtuSettings s;
    s.max_mtu = c.max_mtu;
    Harness h(s);
    h.path.mtu = c.path_mtu;
    h.search.start(h.now);
    auto took = h.converge();
    EXPECT_EQ(h.search.state(), PmtuSearch::State::Complete) << c.path_mtu;
    EXPECT_EQ(h.search.mtu(), c.path_mtu) << "max " << c.max_mtu;
    EXPECT_EQ(h.search.max_record(), c.path_mtu - 28);
    EXPECT_LE(took, c.within) << c.path_mtu << " took " << std::chrono::duration<double>(took).count() << " s";
    ASSERT_FALSE(h.changes.empty());
    EXPECT_EQ(h.changes.back(), Change::Completed);
  }
}

TEST(PmtuSearch, OneLostProbeIsNotTooBig) {
  Harness h;
  h.path.lose = 2;  // two of MAX_PROBES = 3
  h.search.start(h.now);
  h.converge();
  EXPECT_EQ(h.search.mtu(), 1500u);
  EXPECT_EQ(h.probes, 3);
}

TEST(PmtuSearch, ProbesTimeOutAfterOneSecondEach) {
  Harness h;
  h.path.mtu = 1200;
  h.search.start(h.now);
  auto t0 = h.now;
  EXPECT_EQ(h.search.take_probe(h.now), 1500u);
  EXPECT_EQ(h.search.deadline(), t0 + 1s);
  h.now = t0 + 999ms;
  h.search.tick(h.now);
  EXPECT_FALSE(h.search.take_probe(h.now).has_value());  // not yet
  h.now = t0 + 1s;
  h.search.tick(h.now);
  EXPECT_EQ(h.search.take_probe(h.now), 1500u);  // the same size again
}

TEST(PmtuSearch, BlackHoleFallsBackToTheBaseAndSearchesAgain) {
  Harness h;
  h.search.start(h.now);
  h.converge();
  ASSERT_EQ(h.search.mtu(), 1500u);
  h.path.mtu = 1400;  // the path shrinks; small packets still pass
  h.changes.clear();
  // Confirmation every 15 s; three unanswered probes of 1 s each.
  h.run_for(15s + 3s + 10ms);
  ASSERT_FALSE(h.changes.empty());
  EXPECT_EQ(h.changes.front(), Change::BlackHole);
  EXPECT_LT(h.search.mtu(), 1400u + 1);
  h.converge();
  EXPECT_EQ(h.search.mtu(), 1400u);
}

TEST(PmtuSearch, RaisesAgainAfterTheRaiseInterval) {
  Harness h;
  h.path.mtu = 1400;
  h.search.start(h.now);
  h.converge();
  ASSERT_EQ(h.search.mtu(), 1400u);
  h.path.mtu = 1500;
  h.run_for(599s);
  EXPECT_EQ(h.search.mtu(), 1400u);  // confirmations only, no raise yet
  h.run_for(2s);
  EXPECT_EQ(h.search.mtu(), 1500u);
}

TEST(PmtuSearch, StopForgetsAndGoesQuiet) {
  Harness h;
  h.search.start(h.now);
  h.converge();
  h.search.stop();
  EXPECT_EQ(h.search.state(), PmtuSearch::State::Idle);
  EXPECT_EQ(h.search.mtu(), 1200u);
  EXPECT_EQ(h.search.deadline(), Clock::time_point::max());
  EXPECT_FALSE(h.search.take_probe(h.now).has_value());
  EXPECT_EQ(h.search.on_ack(1500, h.now), Change::None);
  EXPECT_EQ(h.search.mtu(), 1200u);
}

TEST(PmtuSearch, FixedSizeNeedsNoSearchAndBadAcksAreIgnored) {
  PmtuSettings s;
  s.max_mtu = 1200;
  Harness fixed(s);
  fixed.search.start(fixed.now);
  EXPECT_EQ(fixed.search.state(), PmtuSearch::State::Complete);
  EXPECT_FALSE(fixed.search.take_probe(fixed.now).has_value());

  Harness h;
  h.search.start(h.now);
  EXPECT_EQ(h.search.on_ack(1501, h.now), Change::None);  // beyond the interface MTU
  EXPECT_EQ(h.search.on_ack(100, h.now), Change::None);
  EXPECT_EQ(h.search.mtu(), 1200u);
}

}  // namespace
}  // namespace dialout
