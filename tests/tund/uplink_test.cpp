// Uplink driven over in-memory transports (tests/support/fake_transport)
// from a fake Dialer: the test plays the intermediary on the other end.
#include "tund/uplink.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <sys/socket.h>

#include "tests/support/fake_transport.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/test_pki.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;

// Hands out fake transports and keeps the test's ends.
class FakeDialer final : public Dialer {
 public:
  Expected<std::unique_ptr<StreamTransport>, std::string> dial(const Endpoint& to,
                                                               const std::string& server_name) override {
    dialled.push_back(to);
    names.push_back(server_name);
    if (fail_dial.contains(to.host)) {
      peers.emplace_back();
      return unexpected("connect " + to.to_string() + ": Network is unreachable");
    }
    FakeTransport::Script script;
    if (stall.contains(to.host)) script.handshake = StreamTransport::Status::WantRead;
    if (fail_handshake.contains(to.host)) script.handshake = StreamTransport::Status::Error;
    auto [t, peer] = FakeTransport::make(script);
    peers.push_back(std::move(peer));
    return std::unique_ptr<StreamTransport>(std::move(t));
  }
  // Hosts whose attempt never connects, fails at once, or fails in the handshake.
  std::set<std::string> stall, fail_dial, fail_handshake;
  std::vector<Endpoint> dialled;
  std::vector<std::string> names;
  std::vector<UniqueFd> peers;
};

struct Recorder final : Uplink::Handler {
  void on_accepted(Uplink&, const Accept& a) override { accepted.push_back(a.id); }
  void on_routes(Uplink&, const Routes& r) override { routes += r.entries.size(); }
  void on_data(Uplink&, const DataView& d) override { data.emplace_back(d.packet.begin(), d.packet.end()); }
  void on_refused(Uplink&, const Refuse& r, bool) override { refused.push_back(r.reason); }
  void on_down(Uplink&) override { ++downs; }
  void on_peer_gone(Uplink&, const PeerGone& g) override { gone.push_back(g.id); }
  std::vector<SiteId> accepted, gone;
  std::vector<RefuseReason> refused;
  std::vector<std::vector<uint8_t>> data;
  size_t routes = 0, downs = 0;
};

// The intermediary's end of one connection: frames in, frames out.
struct PeerEnd {
  explicit PeerEnd(int f) : fd(f) {}
  int fd;
  std::vector<uint8_t> rx;
  std::vector<MsgType> types;
  std::vector<Register> registers;
  void pump() {
    auto bytes = read_available(fd);
    rx.insert(rx.end(), bytes.begin(), bytes.end());
    for (;;) {
      auto f = next_frame(rx);
      if (!f || !f->has_value()) break;
      types.push_back((*f)->type);
      if ((*f)->type == MsgType::Register) registers.push_back(*decode_register((*f)->payload));
      rx.erase(rx.begin(), rx.begin() + std::ptrdiff_t((*f)->size()));
    }
  }
  void send(const auto& message) {
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(encode(message, bytes));
    ASSERT_TRUE(write_all(fd, bytes));
  }
};

class UplinkTest : public ::testing::Test {
 protected:
  UplinkTest() : tls_(std::move(*TlsContext::client(pki_.client_files("office-a")))) {
    settings_.intermediary = *Endpoint::parse("192.0.2.1:443", 443);
    settings_.server_name = "intermediary";
    settings_.registration.name = "office-a";
    settings_.registration.prefixes = {*Prefix::parse("10.1.0.0/24")};
    settings_.keepalive = 1000ms;
    settings_.dead_after = 3000ms;
    settings_.reconnect_min = 10ms;
    settings_.reconnect_max = 20ms;
  }
  void make(Resolver::Lookup lookup = {}) {
    up_ = std::make_unique<Uplink>(0, loop_, tls_, settings_, handler_, log_, 1, Uplink::Seams{&dialer_, lookup});
  }
  template <class Pred>
  bool run_until(Pred pred) {
    return run_loop_until(loop_, pred, 5s, 5ms);
  }
  PeerEnd peer(size_t i) { return PeerEnd(dialer_.peers.at(i).get()); }
  // Plays HELLO / ACCEPT on connection i until the uplink is ready.
  void register_on(PeerEnd& p, SiteId id) {
    ASSERT_TRUE(run_until([&] { return p.pump(), !p.types.empty(); }));
    EXPECT_EQ(p.types.front(), MsgType::Hello);
    p.send(Hello{kProtocolVersion, kCapAll});
    ASSERT_TRUE(run_until([&] { return p.pump(), p.registers.size() == 1; }));
    p.send(Accept{id, {}});
    ASSERT_TRUE(run_until([&] { return up_->ready(); }));
  }

  TestPki pki_;
  TlsContext tls_;
  EventLoop loop_;
  Logger log_{"test", LogLevel::Error};
  Uplink::Settings settings_;
  FakeDialer dialer_;
  Recorder handler_;
  std::unique_ptr<Uplink> up_;
};

TEST_F(UplinkTest, ConnectsRegistersAndReconnectsAfterThePeerCloses) {
  make();
  up_->start();
  ASSERT_EQ(dialer_.dialled.size(), 1u) << "an IP literal is dialled at once";
  EXPECT_EQ(dialer_.dialled[0], (Endpoint{"192.0.2.1", 443}));
  EXPECT_EQ(dialer_.names[0], "intermediary");

  auto p = peer(0);
  register_on(p, 7);
  EXPECT_EQ(p.registers[0].name, "office-a");
  EXPECT_EQ(p.registers[0].flags, 0);
  EXPECT_EQ(handler_.accepted, std::vector<SiteId>{7});

  p.send(Routes{{RouteEntry{9, "office-b", {*Prefix::parse("10.2.0.0/24")}}}});
  p.send(PeerGone{9});
  p.send(Ping{5});
  // DATA on the fast path.
  std::vector<uint8_t> packet(20, 0);
  packet[0] = 0x45;
  std::vector<uint8_t> frame(kDataFrameOverhead + packet.size());
  write_data_headers(std::span<uint8_t, kDataFrameOverhead>(frame.data(), kDataFrameOverhead), DataHeader{7, 9, 0},
                     packet.size());
  std::copy(packet.begin(), packet.end(), frame.begin() + kDataFrameOverhead);
  ASSERT_TRUE(write_all(p.fd, frame));
  ASSERT_TRUE(run_until([&] { return p.pump(), handler_.data.size() == 1 && !handler_.gone.empty(); }));
  EXPECT_EQ(handler_.routes, 1u);
  EXPECT_EQ(handler_.gone, std::vector<SiteId>{9});
  EXPECT_EQ(handler_.data[0], packet);
  ASSERT_TRUE(run_until([&] { return p.pump(), p.types.back() == MsgType::Pong; }));

  dialer_.peers[0].reset();  // the intermediary goes away
  ASSERT_TRUE(run_until([&] { return handler_.downs == 1; }));
  EXPECT_FALSE(up_->ready());
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 2; })) << "redialled after the backoff";
  auto q = peer(1);
  register_on(q, 7);
  EXPECT_EQ(q.registers[0].flags & kRegisterRoamed, 0) << "a plain reconnect is not a roam";
  EXPECT_EQ(up_->reconnects(), 1u);
  EXPECT_EQ(handler_.accepted.size(), 2u);
}

TEST_F(UplinkTest, APermanentRefusalStopsIt) {
  make();
  up_->start();
  auto p = peer(0);
  ASSERT_TRUE(run_until([&] { return p.pump(), !p.types.empty(); }));
  p.send(Hello{});
  ASSERT_TRUE(run_until([&] { return p.pump(), p.registers.size() == 1; }));
  p.send(Refuse{RefuseReason::NameNotAllowed, "no"});
  ASSERT_TRUE(run_until([&] { return !handler_.refused.empty(); }));
  for (int i = 0; i < 10; ++i) loop_.run_once(5ms);  // longer than the reconnect delay
  EXPECT_EQ(dialer_.dialled.size(), 1u);
  EXPECT_EQ(handler_.downs, 0u);
}

// A look-up that answers only when the test lets it.
struct GatedLookup {
  std::mutex mu;
  std::condition_variable cv;
  int allowed = 0, started = 0;
  Resolver::Result answer = Resolver::Addresses{*IpAddr::parse("192.0.2.7")};
  Resolver::Result operator()(const std::string&) {
    std::unique_lock lock(mu);
    ++started;
    cv.wait(lock, [&] { return allowed > 0; });
    --allowed;
    return answer;
  }
  void allow() {
    std::lock_guard lock(mu);
    ++allowed;
    cv.notify_all();
  }
  int started_count() {
    std::lock_guard lock(mu);
    return started;
  }
};

TEST_F(UplinkTest, ResolvesOffTheLoopAndRedialsWithoutWaitingForAFreshAnswer) {
  settings_.intermediary = *Endpoint::parse("relay.test:8443", 443);
  auto gate = std::make_shared<GatedLookup>();
  make([gate](const std::string& h) { return (*gate)(h); });
  up_->start();
  EXPECT_TRUE(dialer_.dialled.empty()) << "nothing to dial before the first answer";
  gate->allow();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 1; }));
  EXPECT_EQ(dialer_.dialled[0], (Endpoint{"192.0.2.7", 8443}));
  auto p = peer(0);
  register_on(p, 3);

  // Roam: a fresh look-up starts (and hangs), the dial does not wait for it.
  up_->reconnect_now("the path changed");
  ASSERT_EQ(dialer_.dialled.size(), 2u) << "dialled the last answer at once";
  EXPECT_EQ(dialer_.dialled[1], (Endpoint{"192.0.2.7", 8443}));
  EXPECT_EQ(handler_.downs, 1u);
  auto q = peer(1);
  register_on(q, 3);
  EXPECT_EQ(q.registers[0].flags & kRegisterRoamed, kRegisterRoamed);
  EXPECT_TRUE(run_until([&] { return gate->started_count() == 2; }));
  gate->allow();  // lets the thread finish before the resolver goes
  up_.reset();
}

TEST_F(UplinkTest, ThroughAProxyResolvesAndDialsTheProxyAndRoamsThroughItAgain) {
  settings_.intermediary = *Endpoint::parse("relay.test:8443", 443);
  ProxyRoute route;
  route.server.address = Endpoint{"proxy.lan", 3128};
  settings_.proxy = route;
  struct Asked {
    std::mutex mu;
    std::vector<std::string> hosts;
  };
  auto asked = std::make_shared<Asked>();  // the look-up thread may outlive the uplink
  make([asked](const std::string& h) -> Resolver::Result {
    std::lock_guard lock(asked->mu);
    asked->hosts.push_back(h);
    return Resolver::Addresses{*IpAddr::parse("192.0.2.9")};
  });
  up_->start();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 1; }));
  EXPECT_EQ(dialer_.dialled[0], (Endpoint{"192.0.2.9", 3128}));
  EXPECT_EQ(dialer_.names[0], "intermediary");
  auto p = peer(0);
  register_on(p, 3);
  up_->reconnect_now("the path changed");
  ASSERT_EQ(dialer_.dialled.size(), 2u);
  EXPECT_EQ(dialer_.dialled[1], (Endpoint{"192.0.2.9", 3128}));
  up_.reset();
  std::lock_guard lock(asked->mu);
  ASSERT_FALSE(asked->hosts.empty());
  for (const auto& h : asked->hosts) EXPECT_EQ(h, "proxy.lan");
}

// Happy eyeballs (tund/connect_race.hpp) through the uplink: the name has
// both families, IPv6 first as getaddrinfo sorts it on a dual-stack host.
Resolver::Lookup dual_stack_answer() {
  return [](const std::string&) -> Resolver::Result {
    return Resolver::Addresses{*IpAddr::parse("2001:db8::7"), *IpAddr::parse("192.0.2.7")};
  };
}

// The test's end of a connection the uplink closed reads end-of-stream.
bool closed_by_uplink(const UniqueFd& fd) {
  char c;
  return ::recv(fd.get(), &c, 1, MSG_DONTWAIT) == 0;
}

TEST_F(UplinkTest, HappyEyeballsV6AnswersAndV4IsNeverTried) {
  settings_.intermediary = *Endpoint::parse("relay.test:443", 443);
  make(dual_stack_answer());
  up_->start();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 1; }));
  EXPECT_EQ(dialer_.dialled[0], (Endpoint{"2001:db8::7", 443}));
  auto p = peer(0);
  register_on(p, 3);
  for (int i = 0; i < 8; ++i) loop_.run_once(50ms);  // past the 250 ms attempt delay
  EXPECT_EQ(dialer_.dialled.size(), 1u) << "v6 won before the v4 attempt was due";
  EXPECT_EQ(up_->status().remote, "[2001:db8::7]:443");
}

TEST_F(UplinkTest, HappyEyeballsStartsV4AfterTheDelayWhenV6HangsAndClosesTheLoser) {
  settings_.intermediary = *Endpoint::parse("relay.test:443", 443);
  dialer_.stall = {"2001:db8::7"};  // e.g. a firewall dropping v6 SYNs
  make(dual_stack_answer());
  up_->start();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 1; }));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 2; }));
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 200ms) << "v4 waits for the attempt delay";
  EXPECT_LT(waited, 2s) << "not for a TCP or handshake timeout";
  EXPECT_EQ(dialer_.dialled[1], (Endpoint{"192.0.2.7", 443}));
  auto p = peer(1);
  register_on(p, 3);
  EXPECT_EQ(up_->status().remote, "192.0.2.7:443");
  EXPECT_TRUE(closed_by_uplink(dialer_.peers[0])) << "the v6 attempt lost and was closed";
  EXPECT_FALSE(closed_by_uplink(dialer_.peers[1]));
}

TEST_F(UplinkTest, HappyEyeballsAFailedAttemptStartsTheNextAtOnce) {
  settings_.intermediary = *Endpoint::parse("relay.test:443", 443);
  dialer_.fail_dial = {"2001:db8::7"};  // no v6 route: connect fails at once
  make(dual_stack_answer());
  up_->start();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() == 2; }));
  EXPECT_EQ(dialer_.dialled[1], (Endpoint{"192.0.2.7", 443}));
  auto p = peer(1);
  register_on(p, 3);
  EXPECT_EQ(up_->status().remote, "192.0.2.7:443");
}

TEST_F(UplinkTest, HappyEyeballsAllAttemptsFailingIsOneFailureThenTheBackoffRedials) {
  settings_.intermediary = *Endpoint::parse("relay.test:443", 443);
  dialer_.fail_handshake = {"2001:db8::7", "192.0.2.7"};
  make(dual_stack_answer());
  up_->start();
  ASSERT_TRUE(run_until([&] { return dialer_.dialled.size() >= 4; })) << "both tried, then both again";
  EXPECT_EQ(dialer_.dialled[0].host, "2001:db8::7");
  EXPECT_EQ(dialer_.dialled[1].host, "192.0.2.7");
  EXPECT_EQ(dialer_.dialled[2].host, "2001:db8::7") << "each dial races from the preferred family again";
  EXPECT_FALSE(up_->ready());
}

}  // namespace
}  // namespace dialout
