#include "tund/path_choice.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using State = PathChoice::State;

constexpr size_t kOverhead = 28;  // IPv4 + UDP, the default PmtuSettings

// The UDP path as the site sees it: probes get through when `up` and the
// packet fits `mtu`; the intermediary's reply arrives `rtt` later unless
// `replies_lost` (a path that works one way only) or `lose_replies` > 0.
struct FakeUdpPath {
  bool up = true;
  bool replies_lost = false;
  int lose_replies = 0;
  size_t mtu = 1500;
  Clock::duration rtt = 20ms;
};

struct Sent {
  Clock::time_point at;
  ProbeRequest probe;
};
struct Seen {
  Clock::time_point at;
  PathEvent event;
};

struct Harness {
  PathChoice choice;
  FakeUdpPath path;
  Clock::time_point now = Clock::time_point{} + 1h;
  struct Reply {
    Clock::time_point at;
    ProbeReply reply;
  };
  std::vector<Reply> replies;
  std::vector<Sent> sent;
  std::vector<Seen> events;

  explicit Harness(PathSettings s = {}) : choice(s) {}

  void collect() {
    while (auto p = choice.take_probe()) {
      sent.push_back({now, *p});
      if (!path.up || p->record_size + kOverhead > path.mtu) continue;
      if (path.replies_lost) continue;
      if (path.lose_replies > 0) {
        --path.lose_replies;
        continue;
      }
      replies.push_back({now + path.rtt, ProbeReply{p->token, static_cast<uint16_t>(p->record_size)}});
    }
    for (auto& e : choice.take_events()) events.push_back({now, std::move(e)});
  }
  void start() {
    choice.start(now);
    collect();
  }
  // Advances fake time to `end`, delivering replies and ticking at each deadline.
  void run_for(Clock::duration d) {
    const auto end = now + d;
    for (int guard = 0; guard < 1000000 && now < end; ++guard) {
      auto next = std::min(choice.deadline(), end);
      for (const auto& r : replies) next = std::min(next, r.at);
      now = std::max(now, next);
      for (auto it = replies.begin(); it != replies.end();) {
        if (it->at <= now) {
          choice.on_probe_reply(now, it->reply);
          it = replies.erase(it);
        } else {
          ++it;
        }
      }
      choice.tick(now);
      collect();
    }
  }
  std::vector<Seen> switches() const {
    std::vector<Seen> out;
    for (const auto& e : events)
      if (e.event.kind == PathEvent::Kind::Switched) out.push_back(e);
    return out;
  }
  // Validation probes (padded to the 1200-byte base) sent at or after `from`.
  std::vector<Clock::time_point> validations(Clock::time_point from) const {
    std::vector<Clock::time_point> out;
    for (const auto& s : sent)
      if (s.at >= from && s.probe.record_size == 1200 - kOverhead) out.push_back(s.at);
    return out;
  }
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

TEST(PathChoice, OffUntilStarted) {
  Harness h;
  EXPECT_EQ(h.choice.state(), State::Off);
  EXPECT_EQ(h.choice.path(), Carrier::Stream);
  EXPECT_EQ(h.choice.max_record_size(), 0u);
  EXPECT_EQ(h.choice.deadline(), Clock::time_point::max());
  h.run_for(10s);
  EXPECT_TRUE(h.sent.empty());
  EXPECT_EQ(h.choice.reason(), "datagram path not offered");
}

TEST(PathChoice, AnsweredProbeMovesDataToDatagramsThenMtuIsFound) {
  Harness h;
  auto t0 = h.now;
  h.start();
  ASSERT_EQ(h.sent.size(), 1u);  // at once, padded to the base MTU
  EXPECT_EQ(h.sent[0].probe.record_size, 1200 - kOverhead);
  EXPECT_EQ(h.choice.path(), Carrier::Stream);

  h.run_for(20ms);
  EXPECT_EQ(h.choice.state(), State::Datagram);
  EXPECT_EQ(h.choice.max_record_size(), 1200 - kOverhead);
  auto sw = h.switches();
  ASSERT_EQ(sw.size(), 1u);
  EXPECT_EQ(sw[0].at, t0 + 20ms);
  EXPECT_EQ(sw[0].event.path, Carrier::Datagram);
  EXPECT_EQ(sw[0].event.why, "authenticated probe answered in 20 ms: datagram path works (records up to 1172 bytes)");
  EXPECT_EQ(h.choice.reason(), sw[0].event.why);

  h.run_for(30ms);  // one PMTU probe at the interface MTU, answered
  EXPECT_EQ(h.choice.max_record_size(), 1500 - kOverhead);
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.events[1].event.kind, PathEvent::Kind::MtuChanged);
  EXPECT_EQ(h.events[1].event.why, "path MTU 1500 (records up to 1472 bytes)");
  EXPECT_EQ(h.events[1].event.mtu, 1500u);
}

TEST(PathChoice, SearchesThePathMtu) {
  for (size_t mtu : {1500u, 1492u, 1420u, 1280u, 1200u}) {
    Harness h;
    h.path.mtu = mtu;
    h.start();
    h.run_for(60s);
    EXPECT_EQ(h.choice.state(), State::Datagram) << mtu;
    EXPECT_EQ(h.choice.max_record_size(), mtu - kOverhead) << mtu;
    EXPECT_EQ(h.switches().size(), 1u) << "lost PMTU probes must not look like a dead path";
  }
}

TEST(PathChoice, UdpBlockedFromTheStartStaysOnTheStreamWithBackoff) {
  Harness h;
  h.path.up = false;
  auto t0 = h.now;
  h.start();
  h.run_for(10min);
  EXPECT_EQ(h.choice.path(), Carrier::Stream);
  EXPECT_TRUE(h.events.empty());
  auto v = h.validations(t0);
  ASSERT_GE(v.size(), 10u);
  EXPECT_EQ(v[0], t0);
  // Equal-jitter backoff: the i-th wait lies in [ceiling/2, ceiling], the
  // ceiling doubling from 1 s up to 60 s.
  double ceiling = 1;
  for (size_t i = 1; i < v.size(); ++i) {
    double wait = seconds(v[i] - v[i - 1]);
    EXPECT_GE(wait, std::max(1.0, ceiling / 2)) << i;
    EXPECT_LE(wait, ceiling) << i;
    ceiling = std::min(60.0, ceiling * 2);
  }
  EXPECT_LE(v.size(), 27u);
}

TEST(PathChoice, FallsBackToTheStreamWithin3s) {
  for (bool one_way : {false, true}) {
    Harness h;
    h.start();
    h.run_for(10s);
    ASSERT_EQ(h.choice.state(), State::Datagram);
    auto cut = h.now;
    if (one_way) h.path.replies_lost = true;  // probes arrive, replies do not
    else h.path.up = false;
    h.run_for(5s);
    auto sw = h.switches();
    ASSERT_EQ(sw.size(), 2u) << one_way;
    EXPECT_EQ(sw[1].event.path, Carrier::Stream);
    EXPECT_LE(sw[1].at - cut, 2500ms) << one_way;
    EXPECT_GT(sw[1].at - cut, 1500ms) << "the fallback deadline is 2.5 s after the last reply";
    EXPECT_NE(sw[1].event.why.find("no authenticated probe reply for 2500 ms: back to the stream, probing again in "),
              std::string::npos)
        << sw[1].event.why;
    EXPECT_EQ(h.choice.max_record_size(), 0u);
    EXPECT_EQ(h.choice.stats().fallbacks, 1u);
  }
}

TEST(PathChoice, TwoLostRepliesAreNotAFallback) {
  Harness h;
  h.path.mtu = 1200;  // no PMTU probes: only liveness probes
  h.start();
  h.run_for(10s);
  ASSERT_EQ(h.choice.state(), State::Datagram);
  h.path.lose_replies = 2;
  h.run_for(20s);
  EXPECT_EQ(h.switches().size(), 1u);
  EXPECT_EQ(h.choice.state(), State::Datagram);
}

TEST(PathChoice, LivenessProbesAreSmallAndOncePerSecond) {
  Harness h;
  h.path.mtu = 1200;
  h.start();
  h.run_for(2s);
  auto from = h.now;
  h.run_for(10s);
  int live = 0;  // the rest are PMTU probes, which never get through here
  for (const auto& s : h.sent)
    if (s.at >= from && s.probe.record_size == kRecordOverhead + kMinProbeBody) ++live;
  EXPECT_GE(live, 9);
  EXPECT_LE(live, 11);
}

TEST(PathChoice, ReprobesWithBackoffAndReturns) {
  Harness h;
  h.start();
  h.run_for(5s);
  h.path.up = false;
  h.run_for(3s);
  ASSERT_EQ(h.choice.path(), Carrier::Stream);
  auto fell_back = h.switches().back().at;
  h.run_for(20s);  // still blocked: probes at growing intervals
  // The backoff goes on from the first validation probe (1 s): the waits
  // lie in [1, 2], [2, 4], [4, 8] s.
  auto v = h.validations(fell_back);
  ASSERT_GE(v.size(), 3u);
  EXPECT_GE(v[0] - fell_back, 1s);
  EXPECT_LE(v[0] - fell_back, 2s);
  EXPECT_GE(v[1] - v[0], 2s);
  EXPECT_LE(v[1] - v[0], 4s);
  EXPECT_GE(v[2] - v[1], 4s);
  EXPECT_LE(v[2] - v[1], 8s);

  h.path.up = true;
  auto back = h.now;
  h.run_for(40s);
  auto sw = h.switches();
  EXPECT_EQ(sw.back().event.path, Carrier::Datagram);
  EXPECT_LE(sw.back().at - back, 32s + 20ms);  // at the next probe, at most one ceiling later
}

// A path that flaps backs off more each time; after stable_after (30 s) on
// datagrams the backoff starts over at reprobe_min.
TEST(PathChoice, BackoffResetsOnlyAfterAStablePeriod) {
  auto first_reprobe_delay = [](Clock::duration stay) {
    Harness h;
    h.start();
    h.run_for(5s);
    h.path.up = false;  // first fallback, then re-probes until one gets through
    h.run_for(3s);
    h.path.up = true;
    h.run_for(3s);
    EXPECT_EQ(h.choice.state(), State::Datagram);
    h.run_for(stay);
    h.path.up = false;  // second fallback
    h.run_for(3s);
    EXPECT_EQ(h.choice.path(), Carrier::Stream);
    auto fell = h.switches().back().at;
    h.run_for(70s);
    return h.validations(fell).at(0) - fell;
  };
  // Every validation probe draws the next delay, answered or not: by the
  // second fallback at least four draws are behind (ceiling 8 s or more).
  auto flapping = first_reprobe_delay(10s);
  EXPECT_GE(flapping, 4s);
  EXPECT_LE(flapping, 16s);
  EXPECT_EQ(first_reprobe_delay(40s), 1s);
}

TEST(PathChoice, RoamRevalidatesAtOnce) {
  Harness h;
  h.start();
  h.run_for(5s);
  ASSERT_EQ(h.choice.max_record_size(), 1472u);
  h.path.mtu = 1400;  // the new network has a smaller MTU
  h.choice.roam(h.now, "wlan0 10.0.0.5 -> 192.168.1.7");
  auto roamed = h.now;
  h.collect();
  EXPECT_EQ(h.choice.path(), Carrier::Stream);
  auto sw = h.switches();
  ASSERT_EQ(sw.size(), 2u);
  EXPECT_EQ(sw[1].event.why,
            "address changed (wlan0 10.0.0.5 -> 192.168.1.7): validating the datagram path again");
  EXPECT_EQ(h.validations(roamed).size(), 1u);  // at once, not after a backoff
  h.run_for(60s);
  EXPECT_EQ(h.choice.state(), State::Datagram);
  EXPECT_EQ(h.choice.max_record_size(), 1400 - kOverhead);
  EXPECT_EQ(h.switches()[2].at, roamed + 20ms);
}

TEST(PathChoice, StopAndStaleReplies) {
  Harness h;
  h.start();
  h.run_for(1s);
  ASSERT_EQ(h.choice.state(), State::Datagram);
  h.choice.on_probe_reply(h.now, ProbeReply{999999, 42});  // never sent
  auto last = h.sent.back().probe;
  h.choice.on_probe_reply(h.now, ProbeReply{last.token, static_cast<uint16_t>(last.record_size + 1)});  // wrong size
  EXPECT_EQ(h.choice.stats().stale_replies, 2u);
  EXPECT_EQ(h.choice.state(), State::Datagram);

  h.choice.stop(h.now, "session closed");
  h.collect();
  EXPECT_EQ(h.choice.state(), State::Off);
  EXPECT_EQ(h.switches().back().event.why, "datagram path off: session closed");
  EXPECT_EQ(h.choice.deadline(), Clock::time_point::max());
  h.choice.on_probe_reply(h.now, ProbeReply{last.token, static_cast<uint16_t>(last.record_size)});
  EXPECT_EQ(h.choice.state(), State::Off);
  h.start();  // offered again later: probes again
  h.run_for(1s);
  EXPECT_EQ(h.choice.state(), State::Datagram);
}

TEST(PathChoice, RepliesFromBeforeAFallbackAreStale) {
  Harness h;
  h.start();
  h.run_for(5s);
  ASSERT_EQ(h.choice.state(), State::Datagram);
  h.path.replies_lost = true;
  h.run_for(3s);
  ASSERT_EQ(h.choice.path(), Carrier::Stream);
  auto fell = h.switches().back().at;
  // Every probe of the old attempt is answered now, late (or twice): none
  // of it may bring the datagram path back.
  uint64_t late = 0;
  for (const auto& s : h.sent) {
    if (s.at >= fell) continue;
    h.choice.on_probe_reply(h.now, ProbeReply{s.probe.token, static_cast<uint16_t>(s.probe.record_size)});
    ++late;
  }
  EXPECT_GT(late, 5u);
  EXPECT_EQ(h.choice.stats().stale_replies, late);
  EXPECT_EQ(h.choice.state(), State::Probing);
}

TEST(PathChoice, OutboxIsBounded) {
  PathChoice c{PathSettings{}};
  auto now = Clock::time_point{} + 1h;
  c.start(now);
  for (int i = 0; i < 600; ++i) c.tick(now += 1s);  // nobody takes the probes
  int n = 0;
  while (c.take_probe()) ++n;
  EXPECT_EQ(n, 4);
}

}  // namespace
}  // namespace dialout
