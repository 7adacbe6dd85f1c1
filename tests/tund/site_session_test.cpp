#include "tund/site_session.hpp"

#include <gtest/gtest.h>

#include "tests/tund/site_session_harness.hpp"

namespace dialout {
namespace {

using namespace site_session_test;

TEST(SiteSession, HandshakeHappyPath) {
  Harness h;
  h.session.start(h.now);
  EXPECT_TRUE(one<SiteSession::Dial>(h.take()));
  EXPECT_EQ(h.session.state(), State::Connecting);

  h.session.transport_up(h.now, true);
  auto a = h.take();
  ASSERT_EQ(sent_types(a), std::vector<MsgType>{MsgType::Hello});
  auto hello = decode_hello(frame_of(all<SiteSession::Send>(a)[0].frame).payload);
  EXPECT_EQ(hello->version, kProtocolVersion);
  EXPECT_EQ(hello->capabilities, kCapAll);
  EXPECT_EQ(h.session.state(), State::AwaitHello);

  auto reg = sent_register(h.feed(Hello{kProtocolVersion, kCapAll}));
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->name, "office-a");
  EXPECT_EQ(reg->flags, 0);
  EXPECT_EQ(reg->prefixes, settings().registration.prefixes);
  EXPECT_EQ(h.session.state(), State::AwaitAccept);

  a = h.feed(Accept{7, {*Prefix::parse("100.64.0.9/32")}});
  auto acc = one<SiteSession::Accepted>(a);
  ASSERT_TRUE(acc);
  EXPECT_EQ(acc->accept.id, 7u);
  ASSERT_EQ(acc->accept.addresses.size(), 1u);
  auto note = one<SiteSession::Note>(a);
  ASSERT_TRUE(note);
  EXPECT_NE(note->text.find("registered 'office-a' as site 7 (TLS session resumed)"), std::string::npos);
  EXPECT_TRUE(h.session.ready());
  EXPECT_EQ(h.session.reconnects(), 0u);

  Routes routes{{RouteEntry{9, "office-b", {*Prefix::parse("10.2.0.0/24")}}}};
  auto r = one<SiteSession::RoutesChanged>(h.feed(routes));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->routes.entries.at(0).name, "office-b");

  a = h.feed(Ping{0xfeed});
  ASSERT_EQ(sent_types(a), std::vector<MsgType>{MsgType::Pong});
  EXPECT_EQ(decode_pong(frame_of(all<SiteSession::Send>(a)[0].frame).payload)->token, 0xfeedu);
  EXPECT_TRUE(h.feed(Pong{1}).empty());
  EXPECT_TRUE(h.session.ready());
}

TEST(SiteSession, EachRefusalIsRetriedSoonSlowlyOrNeverByItsReason) {
  enum Retry { Soon, Slowly, Never };
  struct Case {
    uint16_t reason;
    Retry retry;
  };
  const Case cases[] = {
      {1, Never},  {2, Slowly}, {3, Slowly}, {4, Slowly}, {5, Slowly},  {6, Soon},
      {7, Soon},   {8, Soon},   {9, Soon},   {10, Soon},  {11, Soon},   {12, Soon},
      {13, Soon},  {999, Soon},  // unknown: temporary
  };
  constexpr auto kSlow = 60000ms;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    auto s = settings();
    s.refused_retry = kSlow;
    Harness h(s);
    h.session.start(h.now);
    h.session.transport_up(h.now, false);
    h.feed(Hello{});
    auto a = h.feed(Refuse{RefuseReason(c.reason), "because"});
    auto refused = one<SiteSession::Refused>(a);
    ASSERT_TRUE(refused);
    EXPECT_EQ(uint16_t(refused->refuse.reason), c.reason);
    EXPECT_EQ(refused->refuse.text, "because");
    EXPECT_EQ(refused->permanent, c.retry == Never);
    auto close = one<SiteSession::Close>(a);
    ASSERT_TRUE(close);
    EXPECT_FALSE(close->was_ready);
    auto notes = all<SiteSession::Note>(a);
    ASSERT_FALSE(notes.empty());
    EXPECT_EQ(notes[0].level, LogLevel::Error);
    EXPECT_NE(notes[0].text.find("because"), std::string::npos) << notes[0].text;
    switch (c.retry) {
      case Never:
        EXPECT_EQ(h.session.state(), State::Stopped);
        EXPECT_FALSE(one<SiteSession::ReconnectAfter>(a)) << "retrying cannot fix it";
        h.session.retry_due(h.now);
        h.session.tick(h.now + 1h);
        EXPECT_TRUE(h.take().empty()) << "stopped for good";
        break;
      case Slowly: {
        EXPECT_EQ(h.session.state(), State::Waiting);
        EXPECT_EQ(h.session.refused(), RefuseReason(c.reason));
        EXPECT_NE(notes[0].text.find(remedy(RefuseReason(c.reason))), std::string::npos) << "says what to change";
        auto r = one<SiteSession::ReconnectAfter>(a);
        ASSERT_TRUE(r);
        EXPECT_GE(r->delay, kSlow);
        EXPECT_LE(r->delay, kSlow + kSlow / 4);
        break;
      }
      case Soon: {
        EXPECT_EQ(h.session.state(), State::Waiting);
        EXPECT_FALSE(h.session.refused());
        auto r = one<SiteSession::ReconnectAfter>(a);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->delay, kMin) << "first delay of a fresh backoff";
        break;
      }
    }
  }
}

TEST(SiteSession, ARefusalOnlyAChangeHealsIsLoggedOnceRetriedSlowlyAndForgottenOnAccept) {
  auto s = settings();
  s.refused_retry = 5000ms;
  Harness h(s);
  h.session.start(h.now);
  size_t error_lines = 0;
  auto refuse = [&](RefuseReason reason) {
    h.take();
    h.session.transport_up(h.now, false);
    h.feed(Hello{});
    auto a = h.feed(Refuse{reason, "'10.1.0.0/24' is registered by site 'office-b'"});
    for (const auto& n : all<SiteSession::Note>(a)) error_lines += n.level == LogLevel::Error;
    auto r = one<SiteSession::ReconnectAfter>(a);
    EXPECT_TRUE(r);
    if (!r) return;
    EXPECT_GE(r->delay, 5000ms);
    EXPECT_LE(r->delay, 6250ms);
    h.now += r->delay;
    h.session.retry_due(h.now);
  };
  for (int i = 0; i < 5; ++i) refuse(RefuseReason::PrefixTaken);
  EXPECT_EQ(error_lines, 1u) << "one line, not one per attempt";
  refuse(RefuseReason::NameTaken);
  EXPECT_EQ(error_lines, 2u) << "a different reason is news";
  h.connect(7);
  EXPECT_TRUE(h.session.ready());
  EXPECT_FALSE(h.session.refused());
  h.fail_and_retry();
  refuse(RefuseReason::PrefixTaken);
  EXPECT_EQ(error_lines, 3u) << "after an ACCEPT the same refusal is said again";
}

TEST(SiteSession, WithoutSlowRetriesARefusalOnlyAChangeHealsStopsTheSession) {
  auto s = settings();
  s.refused_retry = 0ms;
  Harness h(s);
  h.session.start(h.now);
  h.session.transport_up(h.now, false);
  h.feed(Hello{});
  auto a = h.feed(Refuse{RefuseReason::NameNotAllowed, "no"});
  EXPECT_TRUE(one<SiteSession::Refused>(a)->permanent);
  EXPECT_EQ(h.session.state(), State::Stopped);
  EXPECT_FALSE(one<SiteSession::ReconnectAfter>(a));
}

TEST(SiteSession, AnUnreadableRefusalIsTemporary) {
  Harness h;
  h.session.start(h.now);
  h.session.transport_up(h.now, false);
  auto a = h.feed_raw(MsgType::Refuse, {0, 1});  // reason BadVersion, text length missing
  auto refused = one<SiteSession::Refused>(a);
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->permanent);
  EXPECT_EQ(h.session.state(), State::Waiting);
}

TEST(SiteSession, DuplicateNameRetriesUntilTheOtherSiteIsGone) {
  Harness h;
  h.session.start(h.now);
  for (int attempt = 0; attempt < 3; ++attempt) {
    h.take();
    h.session.transport_up(h.now, false);
    auto reg = sent_register(h.feed(Hello{}));
    ASSERT_TRUE(reg);
    EXPECT_EQ(reg->name, "office-a");
    auto a = h.feed(Refuse{RefuseReason::NameTaken, "'office-a' is registered by another identity"});
    EXPECT_FALSE(one<SiteSession::Refused>(a)->permanent);
    auto r = one<SiteSession::ReconnectAfter>(a);
    ASSERT_TRUE(r);
    h.now += r->delay;
    h.session.retry_due(h.now);
  }
  EXPECT_EQ(h.session.reconnects(), 3u);
  h.connect(11);
  EXPECT_TRUE(h.session.ready());
}

TEST(SiteSession, RoamFlagGoesOnTheRegistersAfterReconnectNowUntilOneIsAccepted) {
  Harness h;
  EXPECT_EQ(h.connect().flags & kRegisterRoamed, 0);

  h.session.reconnect_now(h.now, "the path changed");
  auto a = h.take();
  auto close = one<SiteSession::Close>(a);
  ASSERT_TRUE(close);
  EXPECT_TRUE(close->was_ready);
  EXPECT_TRUE(one<SiteSession::Dial>(a));
  EXPECT_FALSE(one<SiteSession::ReconnectAfter>(a)) << "at once, no backoff";
  EXPECT_EQ(h.session.reconnects(), 1u);
  EXPECT_TRUE(h.session.roam_pending());

  // This attempt dies before ACCEPT: the next REGISTER still says roamed.
  h.session.transport_up(h.now, false);
  h.take();
  auto reg = sent_register(h.feed(Hello{}));
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->flags & kRegisterRoamed, kRegisterRoamed);
  h.fail_and_retry();

  EXPECT_EQ(h.connect().flags & kRegisterRoamed, kRegisterRoamed);
  EXPECT_FALSE(h.session.roam_pending());
  // An ordinary reconnect afterwards does not claim a roam.
  h.fail_and_retry();
  EXPECT_EQ(h.connect().flags & kRegisterRoamed, 0);
}

TEST(SiteSession, ReconnectNowWhileWaitingDialsAtOnce) {
  Harness h;
  h.connect();
  h.session.transport_failed(h.now, "reset");
  h.take();
  h.session.reconnect_now(h.now, "the path changed");
  auto a = h.take();
  EXPECT_FALSE(one<SiteSession::Close>(a)) << "nothing open to close";
  EXPECT_TRUE(one<SiteSession::Dial>(a));
  EXPECT_EQ(h.session.state(), State::Connecting);
  h.session.retry_due(h.now);  // the old timer firing late changes nothing
  EXPECT_TRUE(h.take().empty());
}

TEST(SiteSession, RestartHintIsTheNextDelay) {
  struct Case {
    std::vector<uint8_t> payload;
    std::chrono::milliseconds delay;
  };
  const Case cases[] = {
      {{0, 0, 0x04, 0xd2}, 1234ms},
      {{0, 0, 0, 0}, 0ms},
      {{0xff, 0xff, 0xff, 0xff}, 60000ms},  // capped
      {{0, 1}, 1000ms},                     // unreadable: a default
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.delay.count());
    Harness h;
    h.connect();
    auto a = h.feed_raw(MsgType::Restarting, c.payload);
    auto r = one<SiteSession::ReconnectAfter>(a);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->delay, c.delay);
    EXPECT_TRUE(one<SiteSession::Close>(a)->was_ready);
    bool said = false;
    for (const auto& n : all<SiteSession::Note>(a))
      said |= n.text.find(fmt::format("reconnecting in {} ms", c.delay.count())) != std::string::npos;
    EXPECT_TRUE(said);
  }
}

// A RESTARTING window spreads the reconnects of many sites uniformly over
// it: hint + [0, window], different per seed, the same for the same seed.
TEST(SiteSession, RestartWindowSpreadsReconnects) {
  constexpr int kSites = 400;
  constexpr auto kHint = 500ms;
  constexpr auto kWindow = 10000ms;
  std::vector<int> buckets(10, 0);
  std::vector<std::chrono::milliseconds> delays;
  for (int seed = 1; seed <= kSites; ++seed) {
    Harness h(settings(static_cast<uint64_t>(seed)));
    h.connect();
    auto r = one<SiteSession::ReconnectAfter>(h.feed(Restarting{uint32_t(kHint.count()), uint32_t(kWindow.count())}));
    ASSERT_TRUE(r);
    ASSERT_GE(r->delay, kHint);
    ASSERT_LE(r->delay, kHint + kWindow);
    delays.push_back(r->delay);
    ++buckets[std::min<size_t>(9, static_cast<size_t>((r->delay - kHint) / (kWindow / 10)))];
  }
  // 400 draws into 10 buckets: 40 expected each; 15..65 is far outside
  // chance for a uniform source (and fails for a constant or a clumped one).
  for (int b : buckets) {
    EXPECT_GT(b, 15);
    EXPECT_LT(b, 65);
  }
  Harness again(settings(7));
  again.connect();
  auto r = one<SiteSession::ReconnectAfter>(again.feed(Restarting{uint32_t(kHint.count()), uint32_t(kWindow.count())}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->delay, delays[6]) << "seeded: reproducible";
  // A hostile window is capped.
  Harness capped(settings(3));
  capped.connect();
  auto c = one<SiteSession::ReconnectAfter>(capped.feed(Restarting{0, 0xffffffff}));
  ASSERT_TRUE(c);
  EXPECT_LE(c->delay, SiteSessionSettings{}.restart_window_max);
  // An office set to come back first (restart-window-max-ms 0) ignores the window.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    auto first = settings(seed);
    first.restart_window_max = 0ms;
    Harness office(first);
    office.connect();
    auto o = one<SiteSession::ReconnectAfter>(office.feed(Restarting{uint32_t(kHint.count()), uint32_t(kWindow.count())}));
    ASSERT_TRUE(o);
    EXPECT_EQ(o->delay, kHint);
  }
}

TEST(SiteSession, RouteUpdatesInstallWholeAndAskForResyncOnAGap) {
  Harness h;
  h.connect();
  RouteUpdate part0{3, RouteUpdateKind::Snapshot, 0, 2, {RouteEntry{5, "hq", {}}}, {}};
  RouteUpdate part1{3, RouteUpdateKind::Snapshot, 1, 2, {RouteEntry{6, "b", {}}}, {}};
  EXPECT_FALSE(one<SiteSession::RoutesChanged>(h.feed(part0))) << "half a snapshot is never installed";
  auto full = one<SiteSession::RoutesChanged>(h.feed(part1));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->routes.entries.size(), 2u);
  auto delta = one<SiteSession::RoutesChanged>(h.feed(RouteUpdate{4, RouteUpdateKind::Delta, 0, 1, {}, {6}}));
  ASSERT_TRUE(delta);
  ASSERT_EQ(delta->routes.entries.size(), 1u);
  EXPECT_EQ(delta->routes.entries[0].name, "hq");
  auto gap = h.feed(RouteUpdate{9, RouteUpdateKind::Delta, 0, 1, {}, {5}});
  EXPECT_FALSE(one<SiteSession::RoutesChanged>(gap));
  EXPECT_EQ(sent_types(gap), std::vector<MsgType>{MsgType::RouteResync});
  EXPECT_TRUE(sent_types(h.feed(RouteUpdate{10, RouteUpdateKind::Delta, 0, 1, {}, {5}})).empty()) << "asked once";
  EXPECT_TRUE(h.session.ready());
}

TEST(SiteSession, PeerGoneIsAnEvent) {
  Harness h;
  h.connect();
  auto gone = one<SiteSession::Gone>(h.feed(PeerGone{9}));
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->gone.id, 9u);
  EXPECT_TRUE(h.session.ready());
}

TEST(SiteSession, DnsConfigIsAnEventAndAnOlderRelayMeansNone) {
  const DnsConfig dns{{*IpAddr::parse("10.1.0.53")}, {"office-a.lan"}};
  {
    Harness h;
    h.connect();  // a relay with kCapAll: the DNS comes in its own frame
    auto d = one<SiteSession::DnsChanged>(h.feed(dns));
    ASSERT_TRUE(d);
    EXPECT_EQ(d->dns, dns);
    auto none = one<SiteSession::DnsChanged>(h.feed(DnsConfig{}));
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->dns.empty());
    EXPECT_TRUE(h.session.ready());
    // Malformed: the session is closed like for any malformed frame.
    auto a = h.feed_raw(MsgType::DnsConfig, {1, 4, 127, 0, 0, 1, 1, 1, 'a'});
    EXPECT_TRUE(one<SiteSession::Close>(a));
  }
  {
    // A relay without kCapDnsConfig: "none" right after the ACCEPT (what an
    // earlier relay gave goes), and a DNS_CONFIG from it is out of order.
    Harness h;
    h.session.start(h.now);
    h.take();
    h.session.transport_up(h.now, false);
    h.take();
    h.feed(Hello{kProtocolVersion, kCapAll & ~kCapDnsConfig});
    auto a = h.feed(Accept{7, {}});
    ASSERT_TRUE(one<SiteSession::Accepted>(a));
    auto d = one<SiteSession::DnsChanged>(a);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->dns.empty());
    EXPECT_TRUE(one<SiteSession::Close>(h.feed(dns)));
  }
  {
    // Both set it: nothing is assumed at ACCEPT, the DNS_CONFIG says.
    Harness h;
    h.session.start(h.now);
    h.take();
    h.session.transport_up(h.now, false);
    h.take();
    h.feed(Hello{kProtocolVersion, kCapAll});
    EXPECT_FALSE(one<SiteSession::DnsChanged>(h.feed(Accept{7, {}})));
  }
}

TEST(SiteSession, UnexpectedOrMalformedFramesCloseTheSession) {
  struct Case {
    int stage;  // 0 await hello, 1 await accept, 2 ready
    MsgType type;
    std::vector<uint8_t> payload;
  };
  const Case cases[] = {
      {0, MsgType::Accept, {0, 0, 0, 7, 0}},
      {0, MsgType::Data, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x45}},
      {0, MsgType::Hello, {0, 2, 0, 0, 0, 0, 0, 1}},  // another version
      {1, MsgType::Ping, {0, 0, 0, 0, 0, 0, 0, 1}},
      {1, MsgType::Accept, {0, 0, 0, 0, 0}},  // site id 0
      {2, MsgType::Accept, {0, 0, 0, 7, 0}},
      {2, MsgType::Register, {}},
      {2, MsgType::Routes, {0, 9}},
      {2, MsgType::PeerGone, {0, 0}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << c.stage << " " << unsigned(c.type));
    Harness h;
    if (c.stage == 2) {
      h.connect();
    } else {
      h.session.start(h.now);
      h.session.transport_up(h.now, false);
      if (c.stage == 1) h.feed(Hello{});
      h.take();
    }
    auto a = h.feed_raw(c.type, c.payload);
    auto close = one<SiteSession::Close>(a);
    ASSERT_TRUE(close);
    EXPECT_EQ(close->was_ready, c.stage == 2);
    EXPECT_EQ(h.session.state(), State::Waiting);
  }
}

TEST(SiteSession, StopDropsPendingActionsAndIgnoresEverythingAfter) {
  Harness h;
  h.connect();
  h.session.tick(h.now + kKeepalive);  // a PING waits
  h.session.stop();
  EXPECT_TRUE(h.take().empty());
  h.session.reconnect_now(h.now, "x");
  h.session.transport_failed(h.now, "x");
  h.feed(Ping{1});
  h.session.tick(h.now + 1h);
  EXPECT_TRUE(h.take().empty());
  EXPECT_EQ(h.session.state(), State::Stopped);
}

}  // namespace
}  // namespace dialout
