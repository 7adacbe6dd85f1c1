// Pre-authentication limits against a real Relay (hostile_peer.hpp): silent
// connections beyond max-pending-per-source evict the oldest, beyond the
// handshake rate are closed at accept, both counted; the registered pair
// never notices.
#include <gtest/gtest.h>

#include "tests/intermediary/hostile_peer.hpp"

namespace dialout::hostile {
namespace {

using namespace std::chrono_literals;

class HostilePending : public HostileInput {
 protected:
  void configure(RelayConfig& c) override {
    c.max_pending = 64;
    c.max_pending_per_source = 4;  // every client here is 127.0.0.1
    c.handshake_rate_per_source = rate_;
    c.handshake_burst_per_source = 3;
    c.handshake_timeout = 30s;     // only the limits close silent connections here
  }
  // A silent TCP connection, once the relay has taken it (accepted, refused or evicting).
  Raw open_silent(RelayCounter watch) {
    Raw r;
    uint64_t accepted = relay_->counter(watch);
    size_t sessions = relay_->session_count();
    auto fd = tcp_connect_start(Endpoint{"127.0.0.1", relay_->port()});
    EXPECT_TRUE(fd.has_value());
    r.plain = std::move(*fd);
    run_until([&] { return relay_->session_count() > sessions || relay_->counter(watch) > accepted; });
    return r;
  }
  unsigned rate_ = 0;
};

TEST_F(HostilePending, OldestSilentConnectionOfASourceIsEvicted) {
  uint64_t evicted = relay_->counter(RelayCounter::PendingEvicted);
  std::vector<Raw> silent;
  for (int i = 0; i < 4; ++i) silent.push_back(open_silent(RelayCounter::PendingEvicted));
  ASSERT_TRUE(run_until([&] { return relay_->session_count() == 4 + 4; })) << "4 sessions of the pair + 4 pending";
  EXPECT_EQ(relay_->counter(RelayCounter::PendingEvicted), evicted);
  for (int i = 0; i < 3; ++i) silent.push_back(open_silent(RelayCounter::PendingEvicted));
  EXPECT_TRUE(run_until([&] { return relay_->counter(RelayCounter::PendingEvicted) == evicted + 3; }));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(wait_closed(silent[size_t(i)])) << "the oldest " << i << " is closed";
  EXPECT_TRUE(pump(silent[3]) && pump(silent[6])) << "the newest stay";
  EXPECT_EQ(relay_->session_count(), 4u + 4u);
  EXPECT_EQ(relay_->site_count(), 2u);
  expect_pair_works();  // registered sessions never count and are never evicted
}

class HostileRate : public HostilePending {
 protected:
  void configure(RelayConfig& c) override {
    rate_ = 1;
    HostilePending::configure(c);
    c.max_pending_per_source = 64;
    c.handshake_burst_per_source = 6;  // the pair's four connections fit
  }
};

TEST_F(HostileRate, ConnectionsOverTheHandshakeRateAreClosedAtAccept) {
  // The pair's four connections at SetUp took four of the six tokens: of
  // eight more at once, at most three or four fit.
  uint64_t refused = relay_->counter(RelayCounter::RefusedHandshakeRate);
  std::vector<Raw> silent;
  for (int i = 0; i < 8; ++i) silent.push_back(open_silent(RelayCounter::RefusedHandshakeRate));
  EXPECT_GE(relay_->counter(RelayCounter::RefusedHandshakeRate), refused + 4) << "burst 3, 1/s";
  EXPECT_TRUE(wait_closed(silent.back())) << "the last was refused";
  EXPECT_TRUE(logged({"refused: over handshake-rate-per-source"})) << log_text();
  expect_pair_works();
}

}  // namespace
}  // namespace dialout::hostile
