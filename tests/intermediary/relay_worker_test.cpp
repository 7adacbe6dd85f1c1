// A real Relay with two worker threads, and four sites (real SiteEngines
// over in-memory TUNs, real TLS over loopback) on the test's own loop,
// which is also the relay's worker 0. Sessions are spread over both
// workers, so datagrams cross from one worker's session into the other's
// inbox, and the owner is woken to queue and send them. Run under TSan by
// scripts/sanitize.sh: any unlocked touch of shared state fails it.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include "intermediary/relay.hpp"
#include "tests/support/packets.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/fake_tun.hpp"
#include "tund/site_engine.hpp"
#include "tund/uplink.hpp"
#include "tests/support/memory_host_network.hpp"
#include "tests/support/memory_route_installer.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSites = 4;

std::string policy() {
  std::string p;
  for (int i = 1; i <= kSites; ++i)
    p += fmt::format("[identity site-{0}]\nregister = office-{0}\nadvertise = 10.{0}.0.0/24\nreach = *\n\n", i);
  return p;
}

std::string host(int site) { return fmt::format("10.{}.0.2", site); }

struct Site {
  std::unique_ptr<FakeTun> tun;
  MemoryRouteInstaller routes;
  MemoryHostNetwork host;
  SiteConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<SiteEngine> engine;
};

class RelayWorkers : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_config_ = in_process_relay_config(pki_);
    relay_config_.keepalive = 200ms;
    relay_config_.dead_after = 10s;
    relay_config_.handshake_timeout = 5s;
    relay_config_.workers = workers_;
    relay_config_.handshakes_per_turn = handshakes_per_turn_;
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(policy(), "test-policy"), relay_config_,
                                     relay_log_);
    ASSERT_TRUE(relay_->start().has_value());
    ASSERT_EQ(relay_->workers(), workers_);
    for (int i = 1; i <= kSites; ++i) start_site(i);
    ASSERT_TRUE(run_until([&] { return all_up(); })) << log_text();
  }

  // Every site is registered and knows a route to every other.
  bool all_up() const {
    for (int i = 1; i <= kSites; ++i) {
      if (sites_[i - 1]->engine->ready_uplinks() != 1) return false;
      for (int j = 1; j <= kSites; ++j)
        if (j != i && !sites_[i - 1]->engine->routes().lookup(*IpAddr::parse(host(j)))) return false;
    }
    return true;
  }

  void start_site(int i) {
    auto s = std::make_unique<Site>();
    s->tun = std::make_unique<FakeTun>(std::move(*FakeTun::create(false)));
    s->config = in_process_site_config(pki_, relay_->port(), fmt::format("site-{}", i), fmt::format("office-{}", i),
                                       fmt::format("10.{}.0.0/24", i).c_str());
    s->config.connections = 1;
    s->config.keepalive = 200ms;
    s->config.dead_after = 10s;
    s->tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s->config.tls)));
    s->engine = std::make_unique<SiteEngine>(loop_, *s->tls, std::vector<Tun*>{s->tun.get()}, s->routes, s->host, s->config, site_log_);
    s->engine->start();
    sites_.push_back(std::move(s));
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 10s) {
    return run_loop_until(loop_, pred, limit, 2ms);
  }

  unsigned worker_of(int site) const {
    auto w = relay_->site_workers(fmt::format("office-{}", site));
    EXPECT_EQ(w.size(), 1u);
    return w.empty() ? ~0u : w[0];
  }

  // Sends `count` datagrams from each site in `from` to each other site in
  // it (small ones take the urgent lane, large ones bulk), and checks that
  // every one arrives unchanged. Returns the IP bytes sent.
  uint64_t exchange(const std::vector<int>& among, int count) {
    ++round_;
    std::vector<std::vector<std::vector<uint8_t>>> expected(kSites + 1);
    uint64_t bytes = 0;
    for (int n = 0; n < count; ++n) {
      for (int i : among) {
        for (int j : among) {
          if (i == j) continue;
          size_t size = n % 2 == 0 ? 40 : 1200;
          std::string payload = fmt::format("r{} {}->{} #{} ", round_, i, j, n);
          payload.resize(size, char('a' + n % 26));
          auto d = test::ipv4_udp(host(i), host(j), uint16_t(4000 + n), 53, payload);
          EXPECT_TRUE(sites_[i - 1]->tun->inject(d).has_value());
          bytes += d.size();
          expected[j].push_back(std::move(d));
        }
      }
      loop_.run_once(0ms);  // keep the TUN socket buffers from filling up
    }
    for (int j : among) {
      std::vector<std::vector<uint8_t>> got;
      EXPECT_TRUE(run_until([&] {
        while (auto r = sites_[j - 1]->tun->receive(0ms)) got.push_back(std::move(*r));
        return got.size() >= expected[j].size();
      })) << "site " << j << " got " << got.size() << " of " << expected[j].size();
      // The lanes may reorder small against large datagrams; each one arrives once, unchanged.
      std::sort(got.begin(), got.end());
      std::sort(expected[j].begin(), expected[j].end());
      EXPECT_EQ(got, expected[j]) << "site " << j;
    }
    return bytes;
  }

  std::string log_text() const {
    std::lock_guard g(lines_mu_);
    std::string all;
    for (const auto& l : lines_) all += l;
    return all;
  }

  unsigned workers_ = 2;
  unsigned handshakes_per_turn_ = HandshakeGate::kDefaultPerTurn;
  TestPki pki_;
  // The relay logs from its worker threads too.
  mutable std::mutex lines_mu_;
  std::vector<std::string> lines_;
  Logger relay_log_{"intermediary", LogLevel::Info, [this](std::string_view l) {
                      std::lock_guard g(lines_mu_);
                      lines_.emplace_back(l);
                    }};
  Logger site_log_{"tund", LogLevel::Error};
  EventLoop loop_;
  RelayConfig relay_config_;
  std::unique_ptr<TlsContext> relay_tls_;
  std::unique_ptr<Relay> relay_;
  std::vector<std::unique_ptr<Site>> sites_;
  int round_ = 0;
};

TEST_F(RelayWorkers, SessionsAreSpreadAndDatagramsCrossWorkersBothWays) {
  EXPECT_EQ(relay_->sessions_per_worker(), (std::vector<size_t>{2, 2})) << "the listener balances";
  std::vector<unsigned> owner;
  for (int i = 1; i <= kSites; ++i) owner.push_back(worker_of(i));
  EXPECT_EQ(std::count(owner.begin(), owner.end(), 0u), 2);
  EXPECT_EQ(std::count(owner.begin(), owner.end(), 1u), 2);

  auto before = relay_->counters();
  const int per_pair = 20;
  uint64_t bytes = exchange({1, 2, 3, 4}, per_pair);
  auto after = relay_->counters();
  const uint64_t frames = uint64_t(kSites) * (kSites - 1) * per_pair;
  EXPECT_EQ(after.frames_forwarded - before.frames_forwarded, frames);
  EXPECT_EQ(after.bytes_forwarded - before.bytes_forwarded, bytes);
  EXPECT_EQ(after.drop_queue_full + after.drop_no_route + after.drop_policy + after.drop_malformed +
                after.drop_spoofed_source,
            0u);
  EXPECT_EQ(relay_->counter(RelayCounter::DropInboxFull) + relay_->counter(RelayCounter::DropSessionGone), 0u)
      << "cross-worker datagrams all pass through the owner's inbox";
}

TEST_F(RelayWorkers, ClosingOneSessionLeavesTheOthersForwarding) {
  // Close a site on worker 1 while the rest (on both workers) keep going.
  int gone = 0;
  for (int i = 1; i <= kSites && gone == 0; ++i)
    if (worker_of(i) == 1) gone = i;
  ASSERT_NE(gone, 0);
  std::vector<int> rest;
  for (int i = 1; i <= kSites; ++i)
    if (i != gone) rest.push_back(i);

  auto before = relay_->counters();
  uint64_t bytes = exchange(rest, 10);
  sites_[gone - 1]->engine.reset();  // its TLS connection closes
  ASSERT_TRUE(run_until([&] { return relay_->session_count() == kSites - 1; })) << log_text();
  EXPECT_EQ(relay_->site_count(), size_t(kSites - 1));
  auto per_worker = relay_->sessions_per_worker();
  EXPECT_EQ(per_worker[0] + per_worker[1], size_t(kSites - 1));
  EXPECT_EQ(per_worker[1], 1u);
  // Every remaining site, whichever worker owns it, hears that the site left.
  ASSERT_TRUE(run_until([&] {
    for (int i : rest)
      if (sites_[i - 1]->engine->routes().lookup(*IpAddr::parse(host(gone)))) return false;
    return true;
  })) << "route withdrawals reach sessions on both workers";
  bytes += exchange(rest, 10);
  auto after = relay_->counters();
  EXPECT_EQ(after.frames_forwarded - before.frames_forwarded, uint64_t(rest.size() * (rest.size() - 1) * 20));
  EXPECT_EQ(after.bytes_forwarded - before.bytes_forwarded, bytes);
  EXPECT_EQ(after.drop_queue_full + after.drop_malformed, 0u);

  // A new connection takes the free place (worker 1 now owns fewer sessions).
  start_site(gone);
  std::swap(sites_[gone - 1], sites_.back());
  sites_.pop_back();
  ASSERT_TRUE(run_until([&] { return relay_->session_count() == kSites && all_up(); })) << log_text();
  EXPECT_EQ(worker_of(gone), 1u);
  exchange({1, 2, 3, 4}, 4);
}

// Each worker has its own server SSL_CTX; they share the ticket keys, so a
// site that reconnects onto another worker still resumes its TLS session.
// The moving site dials with a bare Uplink over the test's own client
// context, so the ticket it caches outlives each connection.
TEST_F(RelayWorkers, SessionResumesOnAnotherWorker) {
  struct Accepted final : Uplink::Handler {
    bool up = false;
    void on_accepted(Uplink&, const Accept&) override { up = true; }
    void on_routes(Uplink&, const Routes&) override {}
    void on_data(Uplink&, const DataView&) override {}
    void on_refused(Uplink&, const Refuse&, bool) override {}
    void on_down(Uplink&) override { up = false; }
  };
  int moving = 0, stay0 = 0, stay1 = 0;  // a site on worker 1, the others it leaves behind
  for (int i = 1; i <= kSites; ++i) {
    if (worker_of(i) == 1 && moving == 0) moving = i;
  }
  ASSERT_NE(moving, 0);
  for (int i = 1; i <= kSites; ++i) {
    if (i != moving && worker_of(i) == 1 && stay1 == 0) stay1 = i;
  }
  ASSERT_NE(stay1, 0);
  Site& site = *sites_[moving - 1];
  // Worker 0 keeps one site (stay0), worker 1 one (stay1): the workers are even.
  site.engine.reset();
  for (int i = 1; i <= kSites; ++i) {
    if (i != moving && worker_of(i) == 0) {
      if (stay0 == 0) stay0 = i; else sites_[i - 1]->engine.reset();
    }
  }
  ASSERT_TRUE(run_until([&] { return relay_->session_count() == 2; })) << log_text();

  Uplink::Settings settings;
  settings.intermediary = site.config.intermediary;
  settings.server_name = site.config.server_name;
  settings.registration = Register{site.config.name, 0, site.config.advertise};
  Accepted handler;
  // On a tie the listener picks worker 0: the ticket comes from worker 0.
  auto uplink = std::make_unique<Uplink>(0, loop_, *site.tls, settings, handler, site_log_, 1);
  uplink->start();
  ASSERT_TRUE(run_until([&] { return handler.up; })) << log_text();
  EXPECT_EQ(worker_of(moving), 0u);
  ASSERT_TRUE(run_until([&] { return site.tls->has_cached_session(); })) << "a ticket from worker 0";
  const uint64_t resumed = relay_->counter(RelayCounter::TlsResumed);

  // It and the site on worker 1 leave: worker 1 is now the less loaded one.
  uplink.reset();
  handler.up = false;
  sites_[stay1 - 1]->engine.reset();
  ASSERT_TRUE(run_until([&] { return relay_->session_count() == 1; })) << log_text();
  uplink = std::make_unique<Uplink>(0, loop_, *site.tls, settings, handler, site_log_, 2);
  uplink->start();
  ASSERT_TRUE(run_until([&] { return handler.up; })) << log_text();
  EXPECT_EQ(worker_of(moving), 1u);
  EXPECT_EQ(relay_->counter(RelayCounter::TlsResumed), resumed + 1) << log_text();
  uplink.reset();
}

class RelayThreeWorkers : public RelayWorkers {
 protected:
  RelayThreeWorkers() { workers_ = 3; }
};

// Several workers: every pair of sites crosses between some two of the three.
TEST_F(RelayThreeWorkers, DatagramsCrossEveryPairOfWorkers) {
  EXPECT_EQ(relay_->sessions_per_worker(), (std::vector<size_t>{2, 1, 1})) << "the listener balances";
  auto before = relay_->counters();
  uint64_t bytes = exchange({1, 2, 3, 4}, 10);
  auto after = relay_->counters();
  EXPECT_EQ(after.frames_forwarded - before.frames_forwarded, uint64_t(kSites) * (kSites - 1) * 10);
  EXPECT_EQ(after.bytes_forwarded - before.bytes_forwarded, bytes);
  EXPECT_EQ(after.drop_queue_full + after.drop_no_route + after.drop_malformed, 0u);
  EXPECT_EQ(relay_->counter(RelayCounter::DropInboxFull) + relay_->counter(RelayCounter::DropSessionGone), 0u);
}

// One handshake step per turn: the sites all dial in the same turn, so all
// but one wait (muted) and are released turn by turn; none is lost, and
// they forward as the others do.
class RelayGatedHandshakes : public RelayWorkers {
 protected:
  RelayGatedHandshakes() { handshakes_per_turn_ = 1; }
};

TEST_F(RelayGatedHandshakes, SitesThatWaitedForTheirTurnRegisterAndForward) {
  EXPECT_GT(relay_->counter(RelayCounter::HandshakeQueued), 0u) << "the four dialled in one turn";
  EXPECT_EQ(relay_->counter(RelayCounter::HandshakeFailed), 0u);
  auto before = relay_->counters();
  exchange({1, 2, 3, 4}, 5);
  EXPECT_EQ(relay_->counters().frames_forwarded - before.frames_forwarded, uint64_t(kSites) * (kSites - 1) * 5);
}

TEST_F(RelayWorkers, RestartAnnouncementReachesSitesOnEveryWorker) {
  relay_->announce_restart();
  // Every site is told to reconnect later; the relay no longer listens, so
  // they all go down and stay down.
  ASSERT_TRUE(run_until([&] {
    return std::all_of(sites_.begin(), sites_.end(), [](const auto& s) { return s->engine->ready_uplinks() == 0; });
  })) << log_text();
  relay_.reset();  // joins worker 1 while its sessions are still open
}

}  // namespace
}  // namespace dialout

namespace dialout {
namespace {

// dialoutctl's view (relay_status.cpp): one row per session with the
// owner's counters, and kill by name or id on either worker's sessions.
TEST_F(RelayWorkers, StatusRowsCountTrafficAndKillReconnectsTheSite) {
  exchange({1, 2, 3, 4}, 5);
  auto rows = relay_->session_rows();
  ASSERT_EQ(rows.size(), size_t(kSites));
  std::map<std::string, SessionRow> by_site;
  for (const auto& r : rows) by_site[r.site] = r;
  for (int i = 1; i <= kSites; ++i) {
    const auto& r = by_site[fmt::format("office-{}", i)];
    EXPECT_EQ(r.state, "ready");
    EXPECT_EQ(r.identity, fmt::format("site-{}", i));
    EXPECT_EQ(r.path, "tls");
    EXPECT_EQ(r.worker, worker_of(i));
    EXPECT_GT(r.bytes_in, 0u);
    EXPECT_GT(r.bytes_out, 0u);
    EXPECT_GE(r.frames_in, uint64_t(3 * 5)) << "its DATA frames and more";
    EXPECT_EQ(r.frames_out, uint64_t(3 * 5)) << "DATA from each other site";
    EXPECT_GT(r.cert_not_after, 0);
  }
  auto sites = relay_->site_rows();
  ASSERT_EQ(sites.size(), size_t(kSites));
  EXPECT_EQ(sites[0].prefixes.size(), 1u);

  // Kill one site per worker: by name, and by session id.
  int on0 = 0, on1 = 0;
  for (int i = 1; i <= kSites; ++i) (worker_of(i) == 0 ? on0 : on1) = i;
  SessionId old0 = by_site[fmt::format("office-{}", on0)].id, old1 = by_site[fmt::format("office-{}", on1)].id;
  auto killed_at = std::chrono::system_clock::now();
  EXPECT_EQ(relay_->kill(fmt::format("office-{}", on0), "test"), 1u);
  EXPECT_EQ(relay_->kill(std::to_string(old1), "test"), 1u);
  EXPECT_EQ(relay_->kill("no-such-site", "test"), 0u);
  EXPECT_EQ(relay_->kill("999999", "test"), 0u);
  auto back = [&](int site, SessionId old) {
    for (const auto& r : relay_->session_rows())
      if (r.site == fmt::format("office-{}", site) && r.state == "ready" && r.id != old) return true;
    return false;
  };
  // The site's side: its uplink registered again after the kill (its own
  // status, not the relay's: ACCEPT may still be on its way).
  auto site_back = [&](int site) {
    auto up = sites_[site - 1]->engine->uplink_status();
    return up.size() == 1 && up[0].state == "ready" && up[0].since > killed_at;
  };
  // Every site routes to the ids the relay gave now (a re-registered site
  // may get a new id; a DATA frame still naming the old one is dropped).
  auto routes_current = [&] {
    std::map<std::string, SiteId> ids;
    for (const auto& r : relay_->site_rows()) ids[r.name] = r.id;
    for (int i = 1; i <= kSites; ++i)
      for (int j = 1; j <= kSites; ++j)
        if (i != j && sites_[i - 1]->engine->routes().lookup(*IpAddr::parse(host(j))) != ids[fmt::format("office-{}", j)])
          return false;
    return true;
  };
  ASSERT_TRUE(run_until([&] {
    return back(on0, old0) && back(on1, old1) && site_back(on0) && site_back(on1) && all_up() && routes_current();
  })) << log_text();
  EXPECT_NE(log_text().find("killed by the operator: test"), std::string::npos);
  exchange({1, 2, 3, 4}, 2);  // and everyone forwards again
}

}  // namespace
}  // namespace dialout
