// The site engine with two TUN queues (queues = 2): one QueueWorker thread
// per queue, each with its share of the uplinks, against a real relay over
// TLS on loopback. The relay and the engines' control logic run on this
// thread's loop; the workers run on their own threads (run under TSan).
#include "tund/queue_worker.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "intermediary/relay.hpp"
#include "tests/support/packets.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/fake_tun.hpp"
#include "tund/site_engine.hpp"
#include "tests/support/memory_host_network.hpp"
#include "tests/support/memory_route_installer.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPolicy = R"(
[identity site-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b

[identity site-b]
register = office-b
advertise = 10.2.0.0/24
reach = office-a
)";

struct MqSite {
  std::vector<std::unique_ptr<FakeTun>> queues;
  MemoryRouteInstaller routes;
  MemoryHostNetwork host;
  SiteConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<SiteEngine> engine;
};

class MultiQueue : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_config_ = in_process_relay_config(pki_);
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_, log_);
    ASSERT_TRUE(relay_->start().has_value());
  }
  void TearDown() override {
    for (auto& s : sites_) s->engine->stop();  // joins the workers before the relay goes
  }

  MqSite& start_site(const std::string& identity, const std::string& name, const char* prefix, unsigned queues,
                     unsigned connections, std::function<void(SiteConfig&)> tweak = {}) {
    auto s = std::make_unique<MqSite>();
    std::vector<Tun*> tuns;
    for (unsigned q = 0; q < queues; ++q) {
      s->queues.push_back(std::make_unique<FakeTun>(std::move(*FakeTun::create(false))));
      tuns.push_back(s->queues.back().get());
    }
    s->config = in_process_site_config(pki_, relay_->port(), identity, name, prefix);
    s->config.connections = connections;
    s->config.queues = queues;
    if (tweak) tweak(s->config);
    s->tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s->config.tls)));
    s->engine = std::make_unique<SiteEngine>(loop_, *s->tls, std::move(tuns), s->routes, s->host, s->config, log_);
    s->engine->start();
    sites_.push_back(std::move(s));
    return *sites_.back();
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
    return run_loop_until(loop_, pred, limit, 5ms);
  }

  // Collects `count` datagrams from any of the site's queues: queue index → datagrams in arrival order.
  std::map<size_t, std::vector<std::vector<uint8_t>>> receive(MqSite& s, size_t count) {
    std::map<size_t, std::vector<std::vector<uint8_t>>> got;
    size_t n = 0;
    run_until([&] {
      for (size_t q = 0; q < s.queues.size(); ++q)
        while (auto r = s.queues[q]->receive(0ms)) {
          got[q].push_back(std::move(*r));
          ++n;
        }
      return n >= count;
    });
    return got;
  }

  // One row of the status file the engine writes now (-1 when missing).
  long status_value(MqSite& s, const std::string& key) {
    s.config.status_file =
        (std::filesystem::temp_directory_path() / ("queue_worker_status_" + std::to_string(::getpid()))).string();
    s.engine->write_status();
    std::stringstream text;
    text << std::ifstream(s.config.status_file).rdbuf();
    std::filesystem::remove(s.config.status_file);
    s.config.status_file.clear();
    auto at = text.str().find("\n" + key + " ");
    return at == std::string::npos ? -1 : std::stol(text.str().substr(at + key.size() + 2));
  }

  void start_pair(unsigned a_connections, unsigned b_connections) {
    a_ = &start_site("site-a", "office-a", "10.1.0.0/24", 2, a_connections);
    b_ = &start_site("site-b", "office-b", "10.2.0.0/24", 2, b_connections);
    ASSERT_TRUE(run_until([&] {
      return a_->engine->ready_uplinks() == std::max(2u, a_connections) &&
             b_->engine->ready_uplinks() == std::max(2u, b_connections) &&
             a_->routes.routes.count(*Prefix::parse("10.2.0.0/24")) &&
             b_->routes.routes.count(*Prefix::parse("10.1.0.0/24")) && relay_->routes_settled();
    })) << "every uplink of both workers registers, and the routes reach the engines";
  }

  TestPki pki_;
  Logger log_{"test", LogLevel::Warn};
  EventLoop loop_;
  RelayConfig relay_config_;
  std::unique_ptr<TlsContext> relay_tls_;
  std::unique_ptr<Relay> relay_;
  std::vector<std::unique_ptr<MqSite>> sites_;
  MqSite* a_ = nullptr;
  MqSite* b_ = nullptr;
};

TEST_F(MultiQueue, ConnectionsAreRaisedToOnePerQueue) {
  start_pair(1, 1);
  EXPECT_EQ(a_->engine->queue_count(), 2u);
  EXPECT_EQ(relay_->site_count(), 2u);
}

TEST_F(MultiQueue, FlowsFromEachQueueLeaveOnThatWorkersUplinksAndArriveBothWays) {
  start_pair(2, 4);
  constexpr int kFlows = 16;
  std::set<std::vector<uint8_t>> sent;
  for (int f = 0; f < kFlows; ++f) {
    auto d = test::ipv4_udp("10.1.0.2", "10.2.0.2", uint16_t(5000 + f), 53, "flow " + std::to_string(f));
    ASSERT_TRUE(a_->queues[size_t(f % 2)]->inject(d).has_value());
    sent.insert(d);
  }
  auto got = receive(*b_, kFlows);
  std::set<std::vector<uint8_t>> arrived;
  for (auto& [q, list] : got) arrived.insert(list.begin(), list.end());
  EXPECT_EQ(arrived, sent) << "every datagram arrives once, unchanged";
  EXPECT_EQ(got.size(), 2u) << "b's two workers both delivered (the relay spreads flows over b's 4 uplinks)";

  // a's counters: each worker sent the flows read from its own queue.
  ASSERT_TRUE(run_until([&] {
    auto per = a_->engine->queue_counters();
    return per.size() == 2 && value_of(per[0], SiteCounter::TxPackets) == kFlows / 2 && value_of(per[1], SiteCounter::TxPackets) == kFlows / 2;
  })) << "worker 0 sent " << value_of(a_->engine->queue_counters()[0], SiteCounter::TxPackets) << ", worker 1 "
      << value_of(a_->engine->queue_counters()[1], SiteCounter::TxPackets);
  ASSERT_TRUE(run_until([&] { return value_of(b_->engine->counters(), SiteCounter::RxPackets) == kFlows; }));
  EXPECT_EQ(value_of(a_->engine->counters(), SiteCounter::TxPackets), uint64_t(kFlows));
  EXPECT_EQ(relay_->counters().frames_forwarded, uint64_t(kFlows));

  // The way back, from both of b's queues, 1400-byte datagrams (bulk lane).
  std::set<std::vector<uint8_t>> replies;
  for (int f = 0; f < kFlows; ++f) {
    auto d = test::ipv4_udp("10.2.0.2", "10.1.0.2", 53, uint16_t(5000 + f), std::string(1400, char('a' + f)));
    ASSERT_TRUE(b_->queues[size_t(f % 2)]->inject(d).has_value());
    replies.insert(d);
  }
  auto back = receive(*a_, kFlows);
  std::set<std::vector<uint8_t>> back_set;
  for (auto& [q, list] : back) back_set.insert(list.begin(), list.end());
  EXPECT_EQ(back_set, replies);
}

TEST_F(MultiQueue, AFlowKeepsItsOrder) {
  start_pair(2, 2);
  constexpr int kPackets = 200;
  for (int i = 0; i < kPackets; ++i) {
    auto d = test::ipv4_udp("10.1.0.2", "10.2.0.2", 7000, 7001, "seq " + std::to_string(i));
    ASSERT_TRUE(a_->queues[1]->inject(d).has_value());
    if (i % 50 == 49) loop_.run_once(0ms);  // keep the socketpair from filling
  }
  auto got = receive(*b_, kPackets);
  ASSERT_EQ(got.size(), 1u) << "one flow arrives on one of b's queues";
  const auto& list = got.begin()->second;
  ASSERT_EQ(list.size(), size_t(kPackets));
  for (int i = 0; i < kPackets; ++i)
    EXPECT_EQ(list[size_t(i)], test::ipv4_udp("10.1.0.2", "10.2.0.2", 7000, 7001, "seq " + std::to_string(i)));
}

TEST_F(MultiQueue, RoamingRedialsTheUplinksOfEveryWorker) {
  start_pair(2, 2);
  EXPECT_EQ(status_value(*a_, "reconnects"), 0);
  a_->host.source = IpAddr::parse("10.9.0.7");  // a path appears where there was none: redial
  a_->host.notify();
  ASSERT_TRUE(run_until([&] { return a_->engine->roams() == 1; }));
  ASSERT_TRUE(run_until([&] { return status_value(*a_, "reconnects") == 2 && a_->engine->ready_uplinks() == 2; }))
      << "each worker redialled its uplink once and both came back";
  auto d = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "after roaming");
  ASSERT_TRUE(a_->queues[0]->inject(d).has_value());
  auto got = receive(*b_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second.front(), d);
}

TEST_F(MultiQueue, StopJoinsTheWorkersAndRemovesTheRoutes) {
  start_pair(2, 2);
  a_->engine->stop();
  EXPECT_EQ(a_->engine->ready_uplinks(), 0u);
  EXPECT_TRUE(a_->routes.routes.empty());
  a_->engine->stop();  // idempotent
}

// Renewed certificate files (same paths as configured) for site-a, and the
// new certificate's expiry.
int64_t renew_files(TestPki& pki, const SiteConfig& config, ClientOpts opts) {
  auto renewed = pki.client_files("site-a", opts);
  namespace fs = std::filesystem;
  fs::copy_file(renewed.cert, config.tls.cert, fs::copy_options::overwrite_existing);
  fs::copy_file(renewed.key, config.tls.key, fs::copy_options::overwrite_existing);
  return TlsContext::client(renewed)->certificate_not_after();
}

std::string nonzero_counters(const SiteEngine& engine) {
  std::string out;
  auto values = engine.counters();
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] != 0) out += std::string(" ") + std::string(kSiteCounters[i].key) + "=" + std::to_string(values[i]);
  return out;
}

std::vector<int64_t> expiries(const SiteEngine& engine) {
  std::vector<int64_t> out;
  for (const auto& u : engine.uplink_status()) out.push_back(u.cert_not_after);
  return out;
}

// SIGHUP with a renewed certificate: each worker moves its uplinks one at a
// time, make before break, while datagrams flow both ways on flows spread
// over every uplink; none is lost, and status ends with every connection
// on the new certificate.
TEST_F(MultiQueue, CertificateRenewalMovesEveryUplinkWithoutLosingADatagram) {
  start_pair(4, 2);
  const auto old_expiry = expiries(*a_->engine);
  int64_t new_expiry = renew_files(pki_, a_->config, {.valid_days = 90});
  ASSERT_EQ(old_expiry.size(), 4u);
  for (auto e : old_expiry) ASSERT_NE(e, new_expiry);
  auto started = a_->engine->renew_certificate();
  ASSERT_TRUE(started.has_value()) << started.error();
  EXPECT_NE(started->find("one at a time"), std::string::npos) << *started;

  size_t sent_ab = 0, sent_ba = 0, got_a = 0, got_b = 0;
  auto moved = [&] {
    auto rows = a_->engine->uplink_status();
    return !a_->engine->renewing() && rows.size() == 4 && a_->engine->ready_uplinks() == 4 &&
           std::all_of(rows.begin(), rows.end(), [&](const auto& r) {
             return r.cert_not_after == new_expiry && r.state == "ready";
           });
  };
  auto collect = [&](MqSite& s, size_t& got) {
    for (auto& q : s.queues)
      while (q->receive(0ms)) ++got;
  };
  ASSERT_TRUE(run_until(
      [&] {
        // A new flow (source port) each turn: flows land on every uplink, old and new.
        uint16_t port = uint16_t(1000 + sent_ab % 500);
        if (a_->queues[sent_ab % 2]->inject(test::ipv4_udp("10.1.0.2", "10.2.0.2", port, 7, "a to b")).has_value())
          ++sent_ab;
        if (b_->queues[sent_ba % 2]->inject(test::ipv4_udp("10.2.0.2", "10.1.0.2", port, 7, "b to a")).has_value())
          ++sent_ba;
        collect(*a_, got_a);
        collect(*b_, got_b);
        return moved();
      },
      20s))
      << "every uplink of site-a moved to the new certificate";
  ASSERT_TRUE(run_until([&] {
    collect(*a_, got_a);
    collect(*b_, got_b);
    return got_a >= sent_ba && got_b >= sent_ab;
  })) << "sent a→b " << sent_ab << ", arrived " << got_b << "; sent b→a " << sent_ba << ", arrived " << got_a
       << "; relay dropped: session gone " << relay_->counter(RelayCounter::DropSessionGone) << ", queue full "
       << relay_->counter(RelayCounter::DropQueueFull) << ", no route " << relay_->counter(RelayCounter::DropNoRoute)
       << "; site a:" << nonzero_counters(*a_->engine) << "; site b:" << nonzero_counters(*b_->engine);
  EXPECT_EQ(got_b, sent_ab);
  EXPECT_EQ(got_a, sent_ba);
  EXPECT_GT(sent_ab, 4u) << "traffic flowed during the move";
}

// Files that do not load (a key that does not match the certificate)
// change nothing: the reload says why and the connections stay as they are.
TEST_F(MultiQueue, CertificateRenewalWithBrokenFilesKeepsTheConnections) {
  start_pair(2, 2);
  const auto old_expiry = expiries(*a_->engine);
  auto other = pki_.client_files("site-a");
  std::filesystem::copy_file(other.key, a_->config.tls.key, std::filesystem::copy_options::overwrite_existing);
  auto r = a_->engine->renew_certificate();
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find(a_->config.tls.key), std::string::npos) << r.error();
  EXPECT_FALSE(a_->engine->renewing());
  EXPECT_EQ(expiries(*a_->engine), old_expiry);
  EXPECT_EQ(a_->engine->ready_uplinks(), 2u);
}

// A certificate the intermediary does not trust: the replacement never
// gets in, the renewal gives up, and the old connections keep working.
TEST_F(MultiQueue, CertificateTheIntermediaryRefusesLeavesTheOldConnections) {
  // The renewal gives up after three dead-peer intervals.
  a_ = &start_site("site-a", "office-a", "10.1.0.0/24", 1, 1, [](SiteConfig& c) {
    c.keepalive = 100ms;
    c.dead_after = 400ms;
  });
  b_ = &start_site("site-b", "office-b", "10.2.0.0/24", 1, 1);
  ASSERT_TRUE(run_until([&] {
    return a_->engine->ready_uplinks() == 1 && b_->engine->ready_uplinks() == 1 &&
           a_->routes.routes.count(*Prefix::parse("10.2.0.0/24"));
  }));
  const auto old_expiry = expiries(*a_->engine);
  int64_t refused_expiry = renew_files(pki_, a_->config, {.other_ca = true, .valid_days = 90});
  ASSERT_NE(refused_expiry, old_expiry.front());
  ASSERT_TRUE(a_->engine->renew_certificate().has_value());
  ASSERT_TRUE(run_until([&] { return !a_->engine->renewing(); }, 10s)) << "the renewal gives up";
  ASSERT_TRUE(run_until([&] { return expiries(*a_->engine).size() == 1; })) << "the replacement is gone";
  EXPECT_EQ(a_->engine->ready_uplinks(), 1u);
  auto d = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "still up");
  ASSERT_TRUE(a_->queues[0]->inject(d).has_value());
  auto got = receive(*b_, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.begin()->second.front(), d);
}

// PEER_GONE heard by any of a worker's uplinks goes to the engine's mailbox
// (the engine withdraws that site's routes; see site_engine_test).
TEST(QueueWorkerControl, PeerGoneIsPostedToTheEngine) {
  TestPki pki;
  Logger log{"test", LogLevel::Warn};
  SiteConfig config = in_process_site_config(pki, 9, "site-a", "office-a", "10.1.0.0/24");
  Uplink::Settings settings;
  SharedSnapshot<WorkerView> view;
  Mailbox<ControlEvent> control(EventFd::create_or_throw(), 4);
  auto tun = FakeTun::create(false);
  ASSERT_TRUE(tun.has_value());
  auto tls = TlsContext::client(config.tls);
  ASSERT_TRUE(tls.has_value());
  QueueWorker worker(*tun, std::move(*tls), QueueWorker::Shared{config, settings, view, control, log}, {3}, 1);
  EventLoop loop;
  auto up_tls = TlsContext::client(config.tls);
  Uplink up(3, loop, *up_tls, settings, worker, log, 1);  // never started: only its index is used
  worker.on_peer_gone(up, PeerGone{42});
  std::vector<ControlEvent> got;
  control.drain([&](ControlEvent&& e) { got.push_back(std::move(e)); });
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].uplink, 3u);
  ASSERT_TRUE(std::holds_alternative<PeerGone>(got[0].what));
  EXPECT_EQ(std::get<PeerGone>(got[0].what).id, 42u);
}

}  // namespace
}  // namespace dialout
