// RelaySession with a fake clock: frames in, frames and events out.
#include "intermediary/relay_session.hpp"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = RelaySession::Clock;
using Kind = RelaySession::Event::Kind;
using State = RelaySession::State;

const Clock::time_point T0 = Clock::time_point{} + 1000s;
const RelaySessionTiming kTiming{.handshake_timeout = 5s, .keepalive = 1s, .dead_after = 3s};

// The frames a session wrote, decoded in order.
std::vector<std::vector<uint8_t>> split(const std::vector<uint8_t>& out) {
  std::vector<std::vector<uint8_t>> frames;
  std::span<const uint8_t> rest(out);
  while (!rest.empty()) {
    auto f = next_frame(rest);
    EXPECT_TRUE(f && *f) << "the session wrote a partial or bad frame";
    if (!f || !*f) break;
    frames.emplace_back(rest.begin(), rest.begin() + (*f)->size());
    rest = rest.subspan((*f)->size());
  }
  return frames;
}

FrameView view(const std::vector<uint8_t>& frame) { return **next_frame(frame); }

template <class M>
std::vector<uint8_t> frame(const M& m) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(encode(m, out).has_value());
  return out;
}

std::vector<uint8_t> data_frame(SiteId dst, std::span<const uint8_t> packet) {
  std::vector<uint8_t> f(kDataFrameOverhead + packet.size());
  write_data_headers(std::span<uint8_t, kDataFrameOverhead>(f.data(), kDataFrameOverhead), DataHeader{dst, 0, 0},
                     packet.size());
  std::copy(packet.begin(), packet.end(), f.begin() + kDataFrameOverhead);
  return f;
}

std::vector<uint8_t> raw(MsgType type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> f(kFrameHeaderSize + payload.size());
  f[0] = uint8_t(type);
  f[2] = uint8_t(payload.size() >> 8);
  f[3] = uint8_t(payload.size());
  std::copy(payload.begin(), payload.end(), f.begin() + kFrameHeaderSize);
  return f;
}

Register reg(std::string name, uint8_t flags = 0) { return Register{std::move(name), flags, {}}; }

struct Fixture {
  RelaySession s{kTiming, T0};
  std::vector<uint8_t> out;

  RelaySession::Event feed(const std::vector<uint8_t>& f, Clock::time_point now = T0) {
    out.clear();
    return s.on_frame(view(f), now, out);
  }
  // Up to Ready, as site `id`.
  void register_as(SiteId id) {
    s.authenticated(T0);
    ASSERT_EQ(feed(frame(Hello{kProtocolVersion, kCapAll})).kind, Kind::HelloOk);
    ASSERT_EQ(feed(frame(reg("office-a"))).kind, Kind::RegisterRequest);
    out.clear();
    s.accept(id, {}, out);
    ASSERT_TRUE(s.ready());
  }
};

TEST(RelaySession, HelloThenRegisterThenAcceptIsReady) {
  Fixture f;
  EXPECT_EQ(f.s.state(), State::Handshake);
  f.s.authenticated(T0);
  EXPECT_EQ(f.s.state(), State::AwaitHello);

  auto hello = f.feed(frame(Hello{kProtocolVersion, kCapAll | 0x80000000u}));
  EXPECT_EQ(hello.kind, Kind::HelloOk);
  EXPECT_EQ(f.s.capabilities(), kCapAll);  // unknown bits dropped
  auto replies = split(f.out);
  ASSERT_EQ(replies.size(), 1u);
  auto our_hello = decode_hello(view(replies[0]).payload);
  ASSERT_TRUE(our_hello);
  EXPECT_EQ(our_hello->version, kProtocolVersion);

  Register r{"office-a", kRegisterWantAddress, {*Prefix::parse("10.1.0.0/24")}};
  auto req = f.feed(frame(r));
  ASSERT_EQ(req.kind, Kind::RegisterRequest);
  EXPECT_EQ(req.request.name, "office-a");
  EXPECT_EQ(req.request.flags, kRegisterWantAddress);
  EXPECT_EQ(req.request.prefixes, r.prefixes);
  EXPECT_TRUE(f.out.empty());  // nothing until the caller decides
  EXPECT_EQ(f.s.state(), State::AwaitRegister);

  std::array<Prefix, 1> addresses{*Prefix::parse("100.64.0.1/32")};
  f.out.clear();
  f.s.accept(7, addresses, f.out);
  EXPECT_TRUE(f.s.ready());
  EXPECT_EQ(f.s.site(), 7u);
  replies = split(f.out);
  ASSERT_EQ(replies.size(), 2u);
  ASSERT_EQ(view(replies[0]).type, MsgType::Accept);
  ASSERT_EQ(view(replies[1]).type, MsgType::DnsConfig);  // kCapDnsConfig: always, empty when the policy gives none
  auto dns = decode_dns_config(view(replies[1]).payload);
  ASSERT_TRUE(dns);
  EXPECT_TRUE(dns->empty());
  auto accept = decode_accept(view(replies[0]).payload);
  ASSERT_TRUE(accept);
  EXPECT_EQ(accept->id, 7u);
  EXPECT_EQ(accept->addresses, std::vector<Prefix>(addresses.begin(), addresses.end()));
}

// Every frame the session does not expect in its state is refused and ends it.
TEST(RelaySession, OutOfOrderAndMalformedFramesAreRefused) {
  struct Case {
    const char* what;
    bool registered;  // Ready first, else AwaitHello
    std::vector<uint8_t> frame;
    RefuseReason reason;
  };
  const Case cases[] = {
      {"REGISTER before HELLO", false, frame(reg("office-a")), RefuseReason::OutOfOrder},
      {"DATA before HELLO", false, data_frame(2, std::vector<uint8_t>(20, 0x45)), RefuseReason::OutOfOrder},
      {"short HELLO", false, raw(MsgType::Hello, {0, 1}), RefuseReason::Malformed},
      {"wrong version", false, frame(Hello{uint16_t(kProtocolVersion + 1), 0}), RefuseReason::BadVersion},
      {"second HELLO when Ready", true, frame(Hello{kProtocolVersion, 0}), RefuseReason::OutOfOrder},
      {"REGISTER when Ready", true, frame(reg("office-b")), RefuseReason::OutOfOrder},
      {"ACCEPT from a site", true, frame(Accept{3, {}}), RefuseReason::OutOfOrder},
      {"short PING", true, raw(MsgType::Ping, {1, 2, 3}), RefuseReason::OutOfOrder},
      {"short PONG", true, raw(MsgType::Pong, {1}), RefuseReason::OutOfOrder},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Fixture f;
    if (c.registered) {
      f.register_as(5);
    } else {
      f.s.authenticated(T0);
    }
    auto e = f.feed(c.frame);
    EXPECT_EQ(e.kind, Kind::Refused);
    EXPECT_EQ(e.reason, c.reason);
    EXPECT_EQ(f.s.state(), State::Closed);
    auto replies = split(f.out);
    ASSERT_EQ(replies.size(), 1u);
    auto refuse = decode_refuse(view(replies[0]).payload);
    ASSERT_TRUE(refuse);
    EXPECT_EQ(refuse->reason, c.reason);
    EXPECT_EQ(refuse->text, e.text);
  }
}

TEST(RelaySession, BadRegisterIsRefusedMalformed) {
  Fixture f;
  f.s.authenticated(T0);
  ASSERT_EQ(f.feed(frame(Hello{kProtocolVersion, 0})).kind, Kind::HelloOk);
  auto e = f.feed(raw(MsgType::Register, {0}));  // a zero-length name
  EXPECT_EQ(e.kind, Kind::Refused);
  EXPECT_EQ(e.reason, RefuseReason::Malformed);
}

TEST(RelaySession, CallerRefusalSendsRefuseOnceAndCloses) {
  Fixture f;
  f.s.authenticated(T0);
  ASSERT_EQ(f.feed(frame(Hello{kProtocolVersion, 0})).kind, Kind::HelloOk);
  ASSERT_EQ(f.feed(frame(reg("office-a"))).kind, Kind::RegisterRequest);
  f.out.clear();
  auto e = f.s.refuse(RefuseReason::NameTaken, "taken", f.out);
  EXPECT_EQ(e.kind, Kind::Refused);
  EXPECT_EQ(split(f.out).size(), 1u);
  f.out.clear();
  f.s.accept(3, {}, f.out);  // too late: nothing happens
  EXPECT_EQ(f.s.state(), State::Closed);
  f.s.refuse(RefuseReason::Internal, "again", f.out);
  EXPECT_TRUE(f.out.empty());
}

TEST(RelaySession, DataIsForwardedOrDroppedWithoutEndingTheSession) {
  Fixture f;
  f.register_as(5);
  std::vector<uint8_t> packet(28, 0x45);
  auto e = f.feed(data_frame(9, packet));
  ASSERT_EQ(e.kind, Kind::Forward);
  EXPECT_EQ(e.data.header.dst, 9u);
  EXPECT_EQ(e.data.packet.size(), packet.size());
  EXPECT_TRUE(f.out.empty());

  auto bad = f.feed(raw(MsgType::Data, {0, 0, 0, 9}));  // shorter than the DATA header
  EXPECT_EQ(bad.kind, Kind::DropMalformed);
  EXPECT_TRUE(f.s.ready());
}

TEST(RelaySession, PingIsAnsweredWithTheSameToken) {
  Fixture f;
  f.register_as(5);
  EXPECT_EQ(f.feed(frame(Ping{0x1234})).kind, Kind::None);
  auto replies = split(f.out);
  ASSERT_EQ(replies.size(), 1u);
  auto pong = decode_pong(view(replies[0]).payload);
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->token, 0x1234u);
  EXPECT_EQ(f.feed(frame(Pong{1})).kind, Kind::None);
  EXPECT_TRUE(f.out.empty());
}

// Timers at their edges: each case registers (or not), then ticks at `at`
// after the last bytes arrived at `rx`.
TEST(RelaySession, TimersAtTheirEdges) {
  struct Case {
    const char* what;
    bool authenticate, registered;
    std::chrono::milliseconds rx;  // after T0; negative: never
    std::chrono::milliseconds at;  // after T0
    Kind expect;
    bool ping;
  };
  const Case cases[] = {
      {"handshake at the timeout", false, false, -1ms, 5s, Kind::None, false},
      {"handshake just past it", false, false, -1ms, 5001ms, Kind::HandshakeTimeout, false},
      {"hello never sent", true, false, -1ms, 5001ms, Kind::HandshakeTimeout, false},
      {"bytes do not extend the handshake", true, false, 4s, 5001ms, Kind::HandshakeTimeout, false},
      {"ready: before keepalive", true, true, -1ms, 999ms, Kind::None, false},
      {"ready: at keepalive", true, true, -1ms, 1s, Kind::None, true},
      {"ready: at dead-after", true, true, -1ms, 3s, Kind::None, true},
      {"ready: past dead-after", true, true, -1ms, 3001ms, Kind::Dead, false},
      {"ready: bytes keep it alive", true, true, 2s, 5s, Kind::None, true},
      {"ready: registered after a slow handshake", true, true, 4900ms, 7s, Kind::None, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Fixture f;
    if (c.registered) {
      f.register_as(1);
    } else if (c.authenticate) {
      f.s.authenticated(T0);
    }
    if (c.rx >= 0ms) f.s.received(T0 + c.rx);
    f.out.clear();
    auto e = f.s.tick(T0 + c.at, f.out);
    EXPECT_EQ(e.kind, c.expect);
    auto frames = split(f.out);
    EXPECT_EQ(frames.size(), c.ping ? 1u : 0u);
    if (c.ping && !frames.empty()) {
      EXPECT_EQ(view(frames[0]).type, MsgType::Ping);
    }
    if (c.expect != Kind::None) {
      EXPECT_EQ(f.s.state(), State::Closed);
      EXPECT_FALSE(e.text.empty());
    }
  }
}

TEST(RelaySession, PingsGoOutOncePerKeepalive) {
  Fixture f;
  f.register_as(1);
  int pings = 0;
  for (auto t = 0ms; t <= 2500ms; t += 100ms) {
    f.s.received(T0 + t);
    f.out.clear();
    EXPECT_EQ(f.s.tick(T0 + t, f.out).kind, Kind::None);
    pings += int(split(f.out).size());
  }
  EXPECT_EQ(pings, 2);  // at 1 s and 2 s
}

TEST(RelaySession, ClosedSessionIgnoresTicksAndFrames) {
  Fixture f;
  f.s.authenticated(T0);
  f.out.clear();
  ASSERT_EQ(f.s.tick(T0 + 6s, f.out).kind, Kind::HandshakeTimeout);
  EXPECT_EQ(f.s.tick(T0 + 7s, f.out).kind, Kind::None);
  auto e = f.feed(frame(Hello{kProtocolVersion, 0}));
  EXPECT_EQ(e.kind, Kind::Refused);
  EXPECT_TRUE(f.out.empty());  // a closed session sends nothing more
}

// ROUTE_RESYNC is a request only a site that negotiated kCapRouteDeltas may
// make; from any other it is an unexpected frame.
TEST(RelaySession, RouteResyncOnlyWithTheCapability) {
  Fixture with;
  with.register_as(5);
  EXPECT_EQ(with.feed(frame(RouteResync{3})).kind, Kind::RouteResync);
  EXPECT_TRUE(with.s.ready());

  Fixture without;
  without.s.authenticated(T0);
  ASSERT_EQ(without.feed(frame(Hello{kProtocolVersion, kCapVnetHeader})).kind, Kind::HelloOk);
  ASSERT_EQ(without.feed(frame(reg("office-a"))).kind, Kind::RegisterRequest);
  without.out.clear();
  without.s.accept(5, {}, without.out);
  EXPECT_EQ(without.feed(frame(RouteResync{3})).kind, Kind::Refused);
}

// DNS_CONFIG follows ACCEPT for sites that can read it, and only for them.
TEST(RelaySession, DnsConfigAfterAcceptOnlyWithTheCapability) {
  const DnsConfig dns{{*IpAddr::parse("10.1.0.53")}, {"office-a.lan"}};
  for (uint32_t caps : {kCapAll, kCapAll & ~kCapDnsConfig}) {
    Fixture f;
    f.s.authenticated(T0);
    ASSERT_EQ(f.feed(frame(Hello{kProtocolVersion, caps})).kind, Kind::HelloOk);
    ASSERT_EQ(f.feed(frame(reg("laptop-a"))).kind, Kind::RegisterRequest);
    f.out.clear();
    f.s.accept(9, {}, f.out, dns);
    auto replies = split(f.out);
    if (!(caps & kCapDnsConfig)) {
      ASSERT_EQ(replies.size(), 1u) << "an older site never sees DNS_CONFIG";
      continue;
    }
    ASSERT_EQ(replies.size(), 2u);
    ASSERT_EQ(view(replies[1]).type, MsgType::DnsConfig);
    auto got = decode_dns_config(view(replies[1]).payload);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, dns);
    // A site has no business sending one.
    EXPECT_EQ(f.feed(frame(dns)).kind, Kind::Refused);
  }
}

}  // namespace
}  // namespace dialout
