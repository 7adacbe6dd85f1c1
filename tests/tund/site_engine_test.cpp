// In-process test of the whole product: a real intermediary (Relay) and
// site engines, talking real TLS 1.3 over loopback, with in-memory TUN
// devices. One event loop drives the relay and the engines' control
// planes; each site's one queue worker runs on its own thread.
#include "tund/site_engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>

#include <fmt/format.h>

#include "intermediary/relay.hpp"
#include "tests/support/packets.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/fake_tun.hpp"
#include "tests/support/memory_host_network.hpp"
#include "tests/support/memory_route_installer.hpp"

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

[identity hq]
register = hq
advertise = 10.5.0.0/24
reach = *

[identity roamer]
register = laptop
reach = hq

# A site whose grant is wide: it may advertise a route over the relay's own
# address (127.0.0.1 here) and any number of prefixes in 10.64.0.0/10.
[identity wide]
register = wide
advertise = 10.64.0.0/10, 127.0.0.0/8
reach = *
)";

// Laptops get addresses inside HQ's LAN (the "laptop on the HQ subnet" case).
constexpr const char* kLaptopPool = "10.5.0.128/25";

struct Site {
  // What this site logged (warn and up), from the engine's and the workers' threads.
  std::mutex log_mu;
  std::vector<std::string> log_lines;
  std::unique_ptr<Logger> log;
  std::unique_ptr<FakeTun> tun;
  MemoryRouteInstaller routes;
  MemoryHostNetwork host;
  SiteConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<SiteEngine> engine;
};

class InProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_config_ = in_process_relay_config(pki_);
    relay_config_.keepalive = 200ms;
    relay_config_.dead_after = 2s;
    relay_config_.address_pools = {*Prefix::parse(kLaptopPool)};
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_, log_);
    ASSERT_TRUE(relay_->start().has_value());
  }

  // prefix nullptr: advertises nothing (a laptop). tweak adjusts the config before the start.
  Site& start_site(const std::string& identity, const std::string& name, const char* prefix,
                   std::vector<std::pair<const char*, const char*>> statics = {},
                   const std::function<void(Site&)>& tweak = {}) {
    auto s = std::make_unique<Site>();
    auto tun = FakeTun::create(false);
    EXPECT_TRUE(tun.has_value());
    s->tun = std::make_unique<FakeTun>(std::move(*tun));
    s->log = std::make_unique<Logger>("site " + name, LogLevel::Warn, [site = s.get()](std::string_view line) {
      std::lock_guard lock(site->log_mu);
      site->log_lines.emplace_back(line);
      std::fwrite(line.data(), 1, line.size(), stderr);
    });
    s->config = in_process_site_config(pki_, relay_->port(), identity, name, prefix);
    for (auto [p, n] : statics) s->config.static_routes.push_back(StaticRoute{*Prefix::parse(p), n});
    s->config.connections = 2;
    s->config.keepalive = 200ms;
    s->config.dead_after = 2s;
    if (tweak) tweak(*s);
    s->tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s->config.tls)));
    s->engine = std::make_unique<SiteEngine>(loop_, *s->tls, std::vector<Tun*>{s->tun.get()}, s->routes, s->host, s->config, *s->log);
    s->engine->start();
    sites_.push_back(std::move(s));
    return *sites_.back();
  }

  // Runs the loop until pred() holds; bounded in time.
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
    return run_loop_until(loop_, pred, limit, 5ms);
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
  // a's worker frames for b once a's table knows b (it reads the view the engine publishes with it).
  ASSERT_TRUE(run_until([&] { return a.engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value(); }));

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

TEST_F(InProcess, NameOwnedByAnotherIdentityIsRefusedSaidOnceAndRetriedSlowly) {
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] { return b.engine->ready_uplinks() > 0; }));
  Site& rogue = start_site("site-c", "office-b", "10.3.0.0/24", {},
                           [](Site& s) { s.config.refused_retry = 100ms; });
  auto refusals = [&] { return relay_->counters().refused_register; };
  ASSERT_TRUE(run_until([&] { return refusals() >= 6; })) << "both connections ask again, slowly";
  EXPECT_EQ(rogue.engine->exit_code(), 0) << "a policy change could still let it in";
  for (const auto& u : rogue.engine->uplink_status()) EXPECT_EQ(u.state, "refused");
  {
    std::lock_guard lock(rogue.log_mu);
    size_t said = std::count_if(rogue.log_lines.begin(), rogue.log_lines.end(),
                                [](const std::string& l) { return l.find("refused us") != std::string::npos; });
    EXPECT_EQ(said, 1u) << "one line for the site, not one per connection and attempt";
  }
  EXPECT_GT(b.engine->ready_uplinks(), 0u) << "the rightful owner is undisturbed";
}

TEST_F(InProcess, NameOwnedByAnotherIdentityEndsTundWhenToldNotToRetry) {
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] { return b.engine->ready_uplinks() > 0; }));
  Site& rogue = start_site("site-c", "office-b", "10.3.0.0/24", {}, [](Site& s) { s.config.refused_retry = 0ms; });
  ASSERT_TRUE(run_until([&] { return rogue.engine->exit_code() == SiteEngine::kExitRefused; }))
      << "refused-retry-ms 0: tund gives up with EX_CONFIG";
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
  // Until the new relay's snapshot reaches a's worker, a still frames for
  // b's id from before the restart, which the relay refuses: send until
  // one gets through.
  std::optional<std::vector<uint8_t>> got;
  ASSERT_TRUE(run_until([&] {
    if (auto r = b.tun->receive(0ms)) got = std::move(*r);
    if (!got) {
      EXPECT_TRUE(a.tun->inject(again).has_value());
    }
    return got.has_value();
  }));
  EXPECT_EQ(*got, again);
}

// PEER_GONE: when a site's last connection closes the relay says so at
// once; the others stop routing to it then, not at the next route snapshot
// (which the relay debounces). Its LAN stays held in the kernel (sticky, so
// nothing leaks out of the default route) and its traffic is dropped here.
TEST_F(InProcess, AGoneSitesRoutesAreWithdrawnAtOnce) {
  // One connection: with two, a snapshot still in flight on the other one
  // may bring b back for a moment and its PEER_GONE withdraw it again.
  Site& a = start_site("site-a", "office-a", "10.1.0.0/24", {}, [](Site& s) {
    s.config.connections = 1;
    s.log->set_level(LogLevel::Info);
  });
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] { return a.engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value(); }));
  b.engine->stop();
  ASSERT_TRUE(run_until([&] { return !a.engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value(); }));
  std::lock_guard lock(a.log_mu);
  EXPECT_EQ(std::count_if(a.log_lines.begin(), a.log_lines.end(),
                          [](const std::string& l) {
                            return l.find("site 'office-b' gone: its routes are withdrawn") != std::string::npos;
                          }),
            1)
      << "acted on PEER_GONE";
  EXPECT_EQ(a.routes.routes.count(*Prefix::parse("10.2.0.0/24")), 1u) << "held in the kernel";
}

// Routes into the tunnel carry a preferred source inside the advertised
// LAN, so what the gateway itself sends (its pings, ICMP errors for path-MTU
// discovery) is not dropped as spoofed: a --tun-address inside the LAN
// when there is one, else the host's own address on that LAN.
TEST_F(InProcess, RoutesIntoTheTunnelPreferAnAddressInsideTheAdvertisedLan) {
  Site& a = start_site("site-a", "office-a", "10.1.0.0/24", {},
                       [](Site& s) { s.host.source = IpAddr::parse("10.1.0.1"); });
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24", {}, [](Site& s) {
    s.host.source = IpAddr::parse("10.2.0.1");
    s.config.tun_addresses = {Prefix{*IpAddr::parse("10.2.0.254"), 32}};
  });
  Site& c = start_site("site-c", "office-c", "10.3.0.0/24");  // no address inside its LAN: the kernel chooses
  const Prefix a_lan = *Prefix::parse("10.1.0.0/24"), b_lan = *Prefix::parse("10.2.0.0/24");
  ASSERT_TRUE(run_until([&] {
    return a.routes.routes.count(b_lan) > 0 && b.routes.routes.count(a_lan) > 0 && c.routes.routes.count(a_lan) > 0;
  }));
  EXPECT_EQ(a.routes.sources.at(b_lan), IpAddr::parse("10.1.0.1")) << "the gateway's LAN address";
  EXPECT_EQ(b.routes.sources.at(a_lan), IpAddr::parse("10.2.0.254")) << "a tun-address inside the LAN wins";
  EXPECT_EQ(c.routes.sources.at(a_lan), std::nullopt);

  a.host.source = IpAddr::parse("10.1.0.9");  // the LAN address changed
  a.host.notify();
  ASSERT_TRUE(run_until([&] { return a.routes.sources.at(b_lan) == IpAddr::parse("10.1.0.9"); }))
      << "the installed routes are replaced with the new source";
}

// Laptop mode and the laptop on the HQ subnet: the laptop asks for an
// address, gets one inside HQ's LAN, puts it on its TUN device and serves
// it; HQ routes that /32 into its tunnel and proxies ARP for it while the
// laptop is connected, and takes both back when it leaves.
TEST_F(InProcess, LaptopGetsAStickyAddressInsideHqLanAndHqProxiesIt) {
  Site& hq = start_site("hq", "hq", "10.5.0.0/24");
  auto laptop_config = [](Site& s) { s.config.request_address = true; };
  Site* laptop = &start_site("roamer", "laptop", nullptr, {}, laptop_config);
  const Prefix hq_lan = *Prefix::parse("10.5.0.0/24");
  ASSERT_TRUE(run_until([&] { return laptop->engine->ready_uplinks() == 2 && !laptop->host.addresses.empty(); }));
  ASSERT_EQ(laptop->host.addresses.size(), 1u);
  const Prefix address = *laptop->host.addresses.begin();
  EXPECT_EQ(address.len, 32);
  EXPECT_TRUE(Prefix::parse(kLaptopPool)->contains(address)) << address.to_string();
  EXPECT_EQ(laptop->engine->assigned_addresses(), std::set<Prefix>{address});
  ASSERT_TRUE(run_until([&] { return laptop->routes.routes.count(hq_lan) > 0; })) << "the laptop routes HQ's LAN";
  EXPECT_EQ(laptop->routes.routes.count(address), 0u) << "but not its own address into its tunnel";

  ASSERT_TRUE(run_until([&] { return hq.routes.routes.count(address) > 0 && hq.host.neighbours.size() == 1; }))
      << "HQ routes the laptop's /32 into the tunnel and proxies ARP for it";
  EXPECT_EQ(hq.host.neighbours.begin()->first, address.addr);
  EXPECT_EQ(hq.host.neighbours.begin()->second, hq_lan) << "on the LAN the address lies in";

  // A LAN host at HQ reaches the laptop, and the laptop answers.
  const std::string lan_host = "10.5.0.7", laptop_ip = address.addr.to_string();
  auto to_laptop = test::ipv4_udp(lan_host.c_str(), laptop_ip.c_str(), 4000, 22, "hello laptop");
  ASSERT_TRUE(hq.tun->inject(to_laptop).has_value());
  auto got = receive(*laptop);
  ASSERT_TRUE(got.has_value()) << "the laptop's proxy client serves its assigned address";
  EXPECT_EQ(*got, to_laptop);
  auto reply = test::ipv4_udp(laptop_ip.c_str(), lan_host.c_str(), 22, 4000, "hello hq");
  ASSERT_TRUE(laptop->tun->inject(reply).has_value());
  got = receive(hq);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, reply);

  // Status file: the new rows.
  auto status = std::filesystem::temp_directory_path() / ("site_engine_test_status_" + std::to_string(::getpid()));
  hq.config.status_file = laptop->config.status_file = status.string();
  laptop->engine->write_status();
  std::stringstream text;
  text << std::ifstream(status).rdbuf();
  EXPECT_NE(text.str().find("addresses 1\n"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("roams 0\n"), std::string::npos) << text.str();
  hq.engine->write_status();
  text.str("");
  text << std::ifstream(status).rdbuf();
  EXPECT_NE(text.str().find("proxy_neighbours 1\n"), std::string::npos) << text.str();
  std::filesystem::remove(status);
  hq.config.status_file = laptop->config.status_file = "";

  // The laptop leaves: its address leaves its TUN, and HQ withdraws the
  // host route and the proxy entry (unlike other sites' routes, which stay).
  laptop->engine->stop();
  EXPECT_TRUE(laptop->host.addresses.empty()) << "assigned addresses are removed on shutdown";
  ASSERT_TRUE(run_until([&] { return hq.routes.routes.count(address) == 0 && hq.host.neighbours.empty(); }));
  EXPECT_EQ(hq.engine->routes().lookup(address.addr), std::nullopt);

  // It comes back (a new process, same identity and name): same address.
  laptop = &start_site("roamer", "laptop", nullptr, {}, laptop_config);
  ASSERT_TRUE(run_until([&] { return !laptop->host.addresses.empty(); }));
  EXPECT_EQ(laptop->host.addresses, std::set<Prefix>{address}) << "the address is sticky";
  ASSERT_TRUE(run_until([&] { return hq.host.neighbours.size() == 1; }));

  // HQ's own shutdown takes the proxy entries and routes back too.
  hq.engine->stop();
  EXPECT_TRUE(hq.host.neighbours.empty());
  EXPECT_TRUE(hq.routes.routes.empty());
}

TEST_F(InProcess, ProxyArpOffRoutesTheLaptopButProxiesNothing) {
  Site& hq = start_site("hq", "hq", "10.5.0.0/24", {}, [](Site& s) { s.config.proxy_arp = false; });
  Site& laptop = start_site("roamer", "laptop", nullptr, {}, [](Site& s) { s.config.request_address = true; });
  ASSERT_TRUE(run_until([&] { return laptop.host.addresses.size() == 1; }));
  const Prefix address = *laptop.host.addresses.begin();
  ASSERT_TRUE(run_until([&] { return hq.routes.routes.count(address) > 0; }));
  EXPECT_TRUE(hq.host.neighbours.empty());
}

// Roaming: a change of the local source address towards the intermediary
// redials every uplink once (a flap within the debounce counts once); a
// change that leaves it alone does nothing.
TEST_F(InProcess, LocalAddressChangeReconnectsEveryUplinkOnce) {
  Site& a = start_site("site-a", "office-a", "10.1.0.0/24", {},
                       [](Site& s) { s.host.source = IpAddr::parse("192.168.1.20"); });
  Site& b = start_site("site-b", "office-b", "10.2.0.0/24");
  ASSERT_TRUE(run_until([&] { return a.engine->ready_uplinks() == 2 && b.engine->ready_uplinks() == 2; }));
  auto reconnects = [&] {
    a.config.status_file = (std::filesystem::temp_directory_path() / "site_engine_roam_status").string();
    a.engine->write_status();
    std::stringstream text;
    text << std::ifstream(a.config.status_file).rdbuf();
    std::filesystem::remove(a.config.status_file);
    a.config.status_file.clear();
    auto at = text.str().find("reconnects ");
    return at == std::string::npos ? -1 : std::stoi(text.str().substr(at + 11));
  };
  ASSERT_EQ(reconnects(), 0);

  a.host.notify();  // something changed, but not our path
  loop_.run_once(0ms);
  ASSERT_TRUE(run_until([&] { return a.host.source_lookups >= 2; }));
  EXPECT_EQ(a.engine->roams(), 0u);

  // The address flaps: two notifications, one new source.
  a.host.source = IpAddr::parse("10.9.0.7");
  a.host.notify();
  loop_.run_once(0ms);
  a.host.notify();
  ASSERT_TRUE(run_until([&] { return a.engine->roams() == 1; }));
  // The worker redials on its own thread: wait for its count, then for both to be back.
  ASSERT_TRUE(run_until([&] { return reconnects() == 2 && a.engine->ready_uplinks() == 2; }))
      << "one redial per uplink, and both come back at once";
  run_until([] { return false; }, 300ms);
  EXPECT_EQ(a.engine->roams(), 1u) << "the flap counted once";

  // The route goes away (nothing to do) and comes back (redial).
  a.host.source.reset();
  a.host.notify();
  run_until([] { return false; }, 300ms);
  EXPECT_EQ(a.engine->roams(), 1u);
  a.host.source = IpAddr::parse("10.9.0.7");
  a.host.notify();
  ASSERT_TRUE(run_until([&] { return a.engine->roams() == 2; }));
  ASSERT_TRUE(run_until([&] { return reconnects() == 4 && a.engine->ready_uplinks() == 2; }));

  // Traffic still flows after roaming.
  ASSERT_TRUE(run_until([&] { return a.engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value(); }));
  auto ping = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "after roaming");
  ASSERT_TRUE(a.tun->inject(ping).has_value());
  auto got = receive(b);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, ping);
}

// Learned routes are bounded: a peer that re-registers again and again with
// new prefixes leaves its old ones held in the other sites' tunnel routes,
// but never more than max-learned-routes of them; the newest are routed.
TEST_F(InProcess, RegisteringNewPrefixesCannotGrowAnotherSitesRoutesPastTheCap) {
  constexpr size_t kCap = 8;
  Site& c = start_site("site-c", "office-c", "10.3.0.0/24", {}, [](Site& s) { s.config.max_learned_routes = kCap; });
  ASSERT_TRUE(run_until([&] { return c.engine->ready_uplinks() == 2; }));
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(round);
    std::vector<Prefix> mine;
    for (int q = 0; q < 4; ++q)
      mine.push_back(*Prefix::parse(fmt::format("10.64.{}.{}/26", round, q * 64)));
    Site& w = start_site("wide", "wide", nullptr, {}, [&](Site& s) { s.config.advertise = mine; });
    ASSERT_TRUE(run_until([&] {
      return std::all_of(mine.begin(), mine.end(), [&](const Prefix& p) {
        return c.routes.routes.count(p) > 0 && c.engine->routes().lookup(p.addr).has_value();
      });
    })) << "the newest prefixes are routed";
    EXPECT_LE(c.routes.routes.size(), kCap) << "installed routes stay within max-learned-routes";
    w.engine->stop();
    ASSERT_TRUE(run_until([&] { return !c.engine->routes().lookup(mine[0].addr).has_value(); }));
  }
  EXPECT_EQ(c.routes.routes.size(), kCap) << "withdrawn prefixes are held (sticky), up to the cap";
}

// A pushed prefix over the relay's own address would send the uplinks into
// their own tunnel; one overlapping a connected network would take the
// host's LAN. Neither is routed nor installed; each refusal is logged once
// although every uplink receives every snapshot. Other prefixes of the same
// site are unaffected.
TEST_F(InProcess, PrefixOverTheRelaysAddressOrAConnectedNetworkIsRefusedAndLoggedOnce) {
  Site& c = start_site("site-c", "office-c", "10.3.0.0/24");
  Site& hq = start_site("hq", "hq", "10.5.0.0/24", {},
                        [](Site& s) { s.host.connected = {*Prefix::parse("10.64.1.0/24")}; });
  const Prefix over_relay = *Prefix::parse("127.0.0.0/8"), fine = *Prefix::parse("10.64.0.0/24"),
               over_lan = *Prefix::parse("10.64.1.128/25");
  start_site("wide", "wide", nullptr, {}, [&](Site& s) { s.config.advertise = {over_relay, fine, over_lan}; });
  ASSERT_TRUE(run_until([&] { return c.routes.routes.count(fine) > 0 && c.routes.routes.count(over_lan) > 0; }));
  EXPECT_EQ(c.routes.routes.count(over_relay), 0u);
  EXPECT_EQ(c.engine->routes().lookup(*IpAddr::parse("127.0.0.1")), std::nullopt);
  ASSERT_TRUE(run_until([&] { return hq.engine->routes().lookup(fine.addr).has_value(); }));
  EXPECT_EQ(hq.routes.routes.count(over_lan), 0u) << "overlaps hq's connected 10.64.1.0/24";
  EXPECT_EQ(hq.engine->routes().lookup(*IpAddr::parse("10.64.1.130")), std::nullopt);
  EXPECT_EQ(hq.routes.routes.count(over_relay), 0u);

  // One more snapshot for everyone: the refusals are not logged again.
  start_site("site-a", "office-a", "10.1.0.0/24");
  ASSERT_TRUE(run_until([&] { return c.routes.routes.count(*Prefix::parse("10.1.0.0/24")) > 0; }));
  auto mentions = [](Site& s, const std::string& text) {
    std::lock_guard lock(s.log_mu);
    return std::count_if(s.log_lines.begin(), s.log_lines.end(),
                         [&](const std::string& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_EQ(mentions(c, "127.0.0.0/8 from 'wide' refused: it contains the intermediary's address 127.0.0.1"), 1);
  EXPECT_EQ(mentions(c, "refused"), 1);
  EXPECT_EQ(mentions(hq, "127.0.0.0/8 from 'wide' refused"), 1);
  EXPECT_EQ(mentions(hq, "10.64.1.128/25 from 'wide' refused: it overlaps the connected network 10.64.1.0/24"), 1);
}

}  // namespace
}  // namespace dialout
