// Test fixture for tests/intermediary/hostile_input_test.cpp: a real Relay
// on loopback with a legitimate pair of sites (SiteEngines over in-memory
// TUNs) exchanging datagrams, plus raw clients (plain TCP or TLS) the test
// drives byte by byte, all on one EventLoop. The relay's log goes to a
// sink so tests can check that each refusal names the peer and the reason.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "intermediary/relay.hpp"
#include "tests/support/packets.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/test_pki.hpp"
#include "tests/support/fake_tun.hpp"
#include "tund/site_engine.hpp"
#include "tests/support/memory_host_network.hpp"
#include "tests/support/memory_route_installer.hpp"

namespace dialout::hostile {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kPolicy = R"(
[identity site-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b

[identity site-b]
register = office-b
advertise = 10.2.0.0/24
reach = office-a

# May register its own name, and (to reach NameTaken/PrefixTaken) names and
# prefixes the legitimate pair already holds.
[identity rogue]
register = rogue-net, office-a
advertise = 10.9.0.0/24, 10.2.0.0/24
reach = *
)";

// Generous: raw clients must register within it under sanitizers on a busy machine.
constexpr auto kHandshakeTimeout = 1000ms;

struct Site {
  std::unique_ptr<FakeTun> tun;
  MemoryRouteInstaller routes;
  MemoryHostNetwork host;
  SiteConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<SiteEngine> engine;
};

// A connection under the test's direct control: plain TCP, or TLS once
// handshake() has been started on it.
struct Raw {
  std::unique_ptr<TlsContext> ctx;
  std::optional<TlsConnection> tls;
  UniqueFd plain;
  std::string local;  // our address as the relay logs it
  TlsConnection::Status handshake = TlsConnection::Status::WantRead;
  std::vector<uint8_t> rx;
  int fd() const { return tls ? tls->fd() : plain.get(); }
};

struct Frame {
  MsgType type;
  std::vector<uint8_t> payload;
};

std::vector<uint8_t> frame_of(const auto& msg) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(encode(msg, out).has_value());
  return out;
}

class HostileInput : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_config_ = in_process_relay_config(pki_, /*with_crl=*/true);
    relay_config_.keepalive = 200ms;
    relay_config_.dead_after = 5s;
    relay_config_.handshake_timeout = kHandshakeTimeout;
    relay_config_.max_sessions_per_identity = 2;
    configure(relay_config_);
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_,
                                     relay_log_);
    ASSERT_TRUE(relay_->start().has_value());
    a_ = &start_site("site-a", "office-a", "10.1.0.0/24");
    b_ = &start_site("site-b", "office-b", "10.2.0.0/24");
    ASSERT_TRUE(run_until([&] {
      return a_->engine->ready_uplinks() == 2 && b_->engine->ready_uplinks() == 2 &&
             a_->engine->routes().lookup(*IpAddr::parse("10.2.0.2")).has_value() &&
             b_->engine->routes().lookup(*IpAddr::parse("10.1.0.2")).has_value();
    })) << "the legitimate pair is up before any hostile input";
    expect_pair_works();
  }

  // A derived fixture's settings, before the relay is made.
  virtual void configure(RelayConfig&) {}

  // `dns`: the site's DNS link (DNS_CONFIG applied through it), if any.
  Site& start_site(const std::string& identity, const std::string& name, const char* prefix,
                   DnsLink* dns = nullptr, std::chrono::milliseconds refused_retry = 300ms) {
    auto s = std::make_unique<Site>();
    s->tun = std::make_unique<FakeTun>(std::move(*FakeTun::create(false)));
    s->config = in_process_site_config(pki_, relay_->port(), identity, name, prefix);
    s->config.connections = 2;
    s->config.keepalive = 200ms;
    s->config.dead_after = 5s;
    s->config.refused_retry = refused_retry;  // short: the refusal tests wait for a slow retry
    s->tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s->config.tls)));
    s->engine = std::make_unique<SiteEngine>(loop_, *s->tls, std::vector<Tun*>{s->tun.get()}, s->routes, s->host, s->config, site_log_);
    s->engine->set_dns(dns);
    s->engine->start();
    sites_.push_back(std::move(s));
    return *sites_.back();
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
    return run_loop_until(loop_, pred, limit, 2ms);
  }

  // Datagrams still cross both ways, unchanged (unique payload per call).
  void expect_pair_works() {
    ++round_;
    auto there = test::ipv4_udp("10.1.0.2", "10.2.0.2", 4000, 53, fmt::format("a->b #{}", round_));
    auto back = test::ipv4_udp("10.2.0.2", "10.1.0.2", 53, 4000, std::string(1200, char('0' + round_ % 10)));
    ASSERT_TRUE(a_->tun->inject(there).has_value());
    ASSERT_TRUE(b_->tun->inject(back).has_value());
    std::optional<std::vector<uint8_t>> at_b, at_a;
    ASSERT_TRUE(run_until([&] {
      if (!at_b) {
        if (auto r = b_->tun->receive(0ms)) at_b = std::move(*r);
      }
      if (!at_a) {
        if (auto r = a_->tun->receive(0ms)) at_a = std::move(*r);
      }
      return at_a && at_b;
    })) << "the legitimate pair still exchanges datagrams";
    EXPECT_EQ(*at_b, there);
    EXPECT_EQ(*at_a, back);
  }

  // A TCP connection to the relay, accepted by it.
  Raw open_tcp() {
    Raw r;
    auto fd = tcp_connect_start(Endpoint{"127.0.0.1", relay_->port()});
    EXPECT_TRUE(fd.has_value());
    r.plain = std::move(*fd);
    size_t before = relay_->session_count();
    EXPECT_TRUE(run_until([&] { return relay_->session_count() > before; })) << "the relay accepts";
    r.local = local_endpoint(r.plain.get())->to_string();
    return r;
  }

  // TCP + TLS from a client presenting `files` (empty cert: none).
  Raw open_tls(const TlsFiles& files) {
    Raw r = open_tcp();
    r.ctx = std::make_unique<TlsContext>(std::move(*TlsContext::client(files)));
    auto tls = TlsConnection::connect(*r.ctx, std::move(r.plain), "intermediary");
    EXPECT_TRUE(tls.has_value()) << (tls ? "" : tls.error());
    r.tls.emplace(std::move(*tls));
    run_until([&] {
      r.handshake = r.tls->handshake();
      return r.handshake != TlsConnection::Status::WantRead && r.handshake != TlsConnection::Status::WantWrite;
    });
    return r;
  }

  void send_plain(Raw& r, std::string_view bytes) {
    ASSERT_EQ(::send(r.plain.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()));
  }

  void send_tls(Raw& r, std::span<const uint8_t> bytes) {
    ASSERT_TRUE(run_until([&] {
      if (bytes.empty()) return !r.tls->has_pending_output() || r.tls->write({}).has_value();
      if (auto n = r.tls->write(bytes)) bytes = bytes.subspan(*n);
      return bytes.empty() && !r.tls->has_pending_output();
    }));
  }

  // Reads what has arrived into r.rx; false once the relay closed or reset.
  bool pump(Raw& r) {
    uint8_t buf[16384];
    for (;;) {
      if (!r.tls) {
        ssize_t n = ::recv(r.plain.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) continue;  // whatever a non-TLS peer is sent is of no interest
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      }
      auto n = r.tls->read(buf);
      if (!n) return n.error() == TlsConnection::Status::WantRead || n.error() == TlsConnection::Status::WantWrite;
      r.rx.insert(r.rx.end(), buf, buf + *n);
    }
  }

  std::optional<Frame> take_frame(Raw& r) {
    auto f = next_frame(r.rx);
    if (!f || !f->has_value()) return std::nullopt;
    Frame out{(*f)->type, {(*f)->payload.begin(), (*f)->payload.end()}};
    r.rx.erase(r.rx.begin(), r.rx.begin() + std::ptrdiff_t((*f)->size()));
    return out;
  }

  // The next frame of `type`, skipping others (ROUTES, PING...).
  std::optional<Frame> wait_frame(Raw& r, MsgType type) {
    std::optional<Frame> got;
    run_until([&] {
      bool open = pump(r);
      while (auto f = take_frame(r))
        if (f->type == type) return bool(got = std::move(f));
      return !open;
    });
    return got;
  }

  // True once the relay has closed the connection (within `limit`).
  bool wait_closed(Raw& r, std::chrono::milliseconds limit = 5s) {
    return run_until([&] { return !pump(r); }, limit);
  }

  // Closes our end and waits until the relay has noticed.
  void close_raw(Raw& r) {
    size_t before = relay_->session_count();
    r.tls.reset();
    r.plain.reset();
    EXPECT_TRUE(run_until([&] { return relay_->session_count() < before; })) << "the relay drops the session";
  }

  // A registered raw session for the rogue identity.
  Raw open_registered(const std::string& name = "rogue-net", const char* prefix = "10.9.0.0/24") {
    Raw r = open_tls(pki_.client_files("rogue"));
    send_tls(r, frame_of(Hello{kProtocolVersion, 0}));
    EXPECT_TRUE(wait_frame(r, MsgType::Hello).has_value());
    send_tls(r, frame_of(Register{name, 0, {*Prefix::parse(prefix)}}));
    EXPECT_TRUE(wait_frame(r, MsgType::Accept).has_value()) << "registration accepted";
    return r;
  }

  // Some relay log line holds every one of `parts`.
  bool logged(std::initializer_list<std::string_view> parts) const {
    return std::any_of(lines_.begin(), lines_.end(), [&](const std::string& line) {
      return std::all_of(parts.begin(), parts.end(), [&](std::string_view p) { return line.find(p) != line.npos; });
    });
  }
  std::string log_text() const {
    std::string all;
    for (const auto& l : lines_) all += l;
    return all;
  }

  TestPki pki_;
  std::vector<std::string> lines_;
  Logger relay_log_{"intermediary", LogLevel::Info, [this](std::string_view l) { lines_.emplace_back(l); }};
  Logger site_log_{"tund", LogLevel::Error};
  EventLoop loop_;
  RelayConfig relay_config_;
  std::unique_ptr<TlsContext> relay_tls_;
  std::unique_ptr<Relay> relay_;
  std::vector<std::unique_ptr<Site>> sites_;
  Site* a_ = nullptr;
  Site* b_ = nullptr;
  int round_ = 0;
};

}  // namespace dialout::hostile
