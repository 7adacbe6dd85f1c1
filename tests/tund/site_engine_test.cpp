// In-process test of the whole product: a real intermediary (Relay) and
// site engines, talking real TLS 1.3 over loopback, with in-memory TUN
// devices. One event loop drives all of them.
#include "tund/site_engine.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "intermediary/relay.hpp"
#include "tests/support/packets.hpp"
#include "tests/support/test_pki.hpp"
#include "tund/fake_tun.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPolicy = R"(
[identity site-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b, office-c

[identity site-b]
register = office-b
advertise = 10.2.0.0/24
reach = office-a

[identity site-c]
register = office-c
advertise = 10.3.0.0/24
reach = *
)";

struct Site {
  std::unique_ptr<FakeTun> tun;
  MemoryRouteInstaller routes;
  SiteConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<SiteEngine> engine;
};

class InProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_config_.listen = *Endpoint::parse("127.0.0.1:0", 0);
    relay_config_.tls = pki_.server_files();
    relay_config_.keepalive = 200ms;
    relay_config_.dead_after = 2s;
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_, log_);
    ASSERT_TRUE(relay_->start().has_value());
  }

  Site& start_site(const std::string& identity, const std::string& name, const char* prefix,
                   std::vector<std::pair<const char*, const char*>> statics = {}) {
    auto s = std::make_unique<Site>();
    auto tun = FakeTun::create(false);
    EXPECT_TRUE(tun.has_value());
    s->tun = std::make_unique<FakeTun>(std::move(*tun));
    s->config.name = name;
    s->config.intermediary = Endpoint{"127.0.0.1", relay_->port()};
    s->config.server_name = "intermediary";
    s->config.tls = pki_.client_files(identity);
    s->config.advertise = {*Prefix::parse(prefix)};
    for (auto [p, n] : statics) s->config.static_routes.push_back(StaticRoute{*Prefix::parse(p), n});
    s->config.connections = 2;
    s->config.keepalive = 200ms;
    s->config.dead_after = 2s;
    s->config.reconnect_min = 20ms;
    s->config.reconnect_max = 200ms;
    s->tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s->config.tls)));
    s->engine = std::make_unique<SiteEngine>(loop_, *s->tls, *s->tun, s->routes, s->config, log_);
    s->engine->start();
    sites_.push_back(std::move(s));
    return *sites_.back();
  }

  // Runs the loop until pred() holds; bounded in time.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.run_once(5ms);
    }
    return true;
  }

  // Receives one datagram from a fake TUN while the loop keeps running.
  std::optional<std::vector<uint8_t>> receive(Site& s, std::chrono::milliseconds limit = 2s) {
    std::optional<std::vector<uint8_t>> got;
    run_until(
        [&] {
          auto r = s.tun->receive(0ms);
          if (r) got = std::move(*r);
          return got.has_value();
        },
        limit);
    return got;
  }

  TestPki pki_;
  Logger log_{"test", LogLevel::Warn};
  EventLoop loop_;
  RelayConfig relay_config_;
  std::unique_ptr<TlsContext> relay_tls_;
  std::unique_ptr<Relay> relay_;
  std::vector<std::unique_ptr<Site>> sites_;
};

TEST_F(InProcess, DatagramCrossesBothWaysAndRoutesAreInstalled) {
  Site& a = start_site("site-a", "office-a", "10.1.0.0/24");
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] {
    return a.engine->ready_uplinks() == 2 && b.engine->ready_uplinks() == 2 &&
           a.routes.routes.count(*Prefix::parse("10.2.0.0/24")) && b.routes.routes.count(*Prefix::parse("10.1.0.0/24"));
  })) << "both sites register on both connections and learn each other's prefix";

  auto ping = test::ipv4_udp("10.1.0.2", "10.2.0.2", 4000, 53, "hello from a");
  ASSERT_TRUE(a.tun->inject(ping).has_value());
  auto got = receive(b);
  ASSERT_TRUE(got.has_value()) << "datagram reaches site b's TUN";
  EXPECT_EQ(*got, ping) << "and arrives unchanged";

  auto reply = test::ipv4_udp("10.2.0.2", "10.1.0.2", 53, 4000, std::string(1400, 'r'));  // bulk lane
  ASSERT_TRUE(b.tun->inject(reply).has_value());
  auto back = receive(a);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, reply);
  EXPECT_EQ(relay_->counters().frames_forwarded, 2u);
}

TEST_F(InProcess, ForbiddenAndSpoofedDatagramsAreDroppedAndCounted) {
  Site& a = start_site("site-a", "office-a", "10.1.0.0/24");
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24", {{"10.3.0.0/24", "office-c"}});
  Site& c = start_site("site-c", "office-c", "10.3.0.0/24");
  ASSERT_TRUE(run_until([&] {
    return a.engine->ready_uplinks() > 0 && b.engine->ready_uplinks() > 0 && c.engine->ready_uplinks() > 0 &&
           relay_->site_count() == 3;
  }));
  ASSERT_TRUE(run_until([&] { return b.routes.routes.count(*Prefix::parse("10.3.0.0/24")) > 0; }));

  // b may not reach office-c: its static route sends it, the relay refuses it.
  ASSERT_TRUE(b.tun->inject(test::ipv4_udp("10.2.0.2", "10.3.0.2", 1, 2, "forbidden")).has_value());
  ASSERT_TRUE(run_until([&] { return relay_->counters().drop_policy == 1; }));
  // a sends from an address outside 10.1.0.0/24.
  ASSERT_TRUE(a.tun->inject(test::ipv4_udp("10.9.9.9", "10.2.0.2", 1, 2, "spoofed")).has_value());
  ASSERT_TRUE(run_until([&] { return relay_->counters().drop_spoofed_source == 1; }));
  // Neither reached a TUN; a legitimate datagram still does.
  auto ok = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "fine");
  ASSERT_TRUE(a.tun->inject(ok).has_value());
  auto got = receive(b);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, ok) << "the first datagram b's TUN sees is the legitimate one";
  EXPECT_FALSE(c.tun->receive(0ms).has_value());
}

TEST_F(InProcess, NameOwnedByAnotherIdentityIsRefusedPermanently) {
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] { return b.engine->ready_uplinks() > 0; }));
  Site& rogue = start_site("site-c", "office-b", "10.3.0.0/24");
  ASSERT_TRUE(run_until([&] { return rogue.engine->exit_code() == SiteEngine::kExitRefused; }))
      << "site-c may not register office-b: tund gives up with EX_CONFIG";
  EXPECT_GE(relay_->counters().refused_register, 1u);
  EXPECT_GT(b.engine->ready_uplinks(), 0u) << "the rightful owner is undisturbed";
}

TEST_F(InProcess, SitesComeBackAfterTheRelayRestarts) {
  Site& a = start_site("site-a", "office-a", "10.1.0.0/24");
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] { return a.engine->ready_uplinks() == 2 && b.engine->ready_uplinks() == 2; }));
  uint16_t port = relay_->port();
  relay_->announce_restart();
  relay_.reset();
  ASSERT_TRUE(run_until([&] { return a.engine->ready_uplinks() == 0 && b.engine->ready_uplinks() == 0; }));
  relay_config_.listen = Endpoint{"127.0.0.1", port};
  relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_, log_);
  ASSERT_TRUE(relay_->start().has_value());
  ASSERT_TRUE(run_until([&] { return a.engine->ready_uplinks() == 2 && b.engine->ready_uplinks() == 2; }, 10s));
  auto again = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "after restart");
  ASSERT_TRUE(run_until([&] { return relay_->site_count() == 2; }));
  ASSERT_TRUE(run_until([&] { return a.engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value(); }));
  ASSERT_TRUE(a.tun->inject(again).has_value());
  auto got = receive(b);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, again);
}

}  // namespace
}  // namespace dialout
