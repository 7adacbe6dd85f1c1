// Session tickets across an intermediary restart: with --ticket-key-file a
// site that reconnects to the new process resumes its TLS session instead of
// a full handshake; without it, it cannot. A real relay and a real site
// engine over loopback TLS.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "intermediary/relay.hpp"
#include "netlib/ticket_key_file.hpp"
#include "tests/support/fake_tun.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/memory_host_network.hpp"
#include "tests/support/memory_route_installer.hpp"
#include "tests/support/test_pki.hpp"
#include "tund/site_engine.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kPolicy = R"(
[identity site-a]
register = office-a
advertise = 10.1.0.0/24
)";

class RelayRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("relay-tickets-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    relay_config_ = in_process_relay_config(pki_);
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
  }
  void TearDown() override {
    if (engine_) engine_->stop();
    fs::remove_all(dir_);
  }

  void start_relay() {
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_, log_);
    auto ok = relay_->start();
    ASSERT_TRUE(ok.has_value()) << ok.error();
    relay_config_.listen.port = relay_->port();  // the restarted one listens where the site dials
  }
  void start_site() {
    tun_ = std::make_unique<FakeTun>(std::move(*FakeTun::create(false)));
    site_config_ = in_process_site_config(pki_, relay_->port(), "site-a", "office-a", "10.1.0.0/24");
    site_config_.connections = 1;  // one handshake per restart: the counts below are exact
    site_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::client(site_config_.tls)));
    engine_ = std::make_unique<SiteEngine>(loop_, *site_tls_, std::vector<Tun*>{tun_.get()}, routes_, host_,
                                           site_config_, log_);
    engine_->start();
  }
  bool registered() {
    return run_loop_until(loop_, [&] { return engine_->ready_uplinks() == 1; }, 10s, 5ms);
  }
  // The site reconnects to a new relay process (the old one gone).
  bool restart_and_reconnect() {
    relay_.reset();
    // The site notices first (else the check below could see the old session).
    if (!run_loop_until(loop_, [&] { return engine_->ready_uplinks() == 0; }, 5s, 5ms)) return false;
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    start_relay();
    return registered();
  }
  void run_for(std::chrono::milliseconds d) { (void)run_loop_until(loop_, [] { return false; }, d, 5ms); }
  uint64_t resumed() const { return relay_->counter(RelayCounter::TlsResumed); }

  TestPki pki_;
  Logger log_{"test", LogLevel::Error};
  EventLoop loop_;
  fs::path dir_;
  RelayConfig relay_config_;
  std::unique_ptr<TlsContext> relay_tls_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<FakeTun> tun_;
  MemoryRouteInstaller routes_;
  MemoryHostNetwork host_;
  SiteConfig site_config_;
  std::unique_ptr<TlsContext> site_tls_;
  std::unique_ptr<SiteEngine> engine_;
};

TEST_F(RelayRestart, WithAKeyFileTheSiteResumesAfterARestart) {
  relay_config_.ticket_key_file = (dir_ / "ticket-keys").string();
  start_relay();
  struct stat st {};
  ASSERT_EQ(::stat(relay_config_.ticket_key_file.c_str(), &st), 0) << "created at start";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  start_site();
  ASSERT_TRUE(registered());
  EXPECT_EQ(resumed(), 0u) << "the first connection is a full handshake";
  run_for(200ms);  // its ticket arrives after the handshake
  ASSERT_TRUE(restart_and_reconnect());
  EXPECT_EQ(resumed(), 1u) << "the new process opened the old one's ticket";
  run_for(200ms);
  ASSERT_TRUE(restart_and_reconnect());
  EXPECT_EQ(resumed(), 1u) << "and again: every resumption hands out a fresh ticket";
}

TEST_F(RelayRestart, WithoutAKeyFileTicketsDieWithTheProcess) {
  start_relay();
  start_site();
  ASSERT_TRUE(registered());
  run_for(200ms);
  ASSERT_TRUE(restart_and_reconnect());
  EXPECT_EQ(resumed(), 0u);
}

TEST_F(RelayRestart, AnOldKeyFileIsRotatedAtStartAndItsTicketsStillResume) {
  relay_config_.ticket_key_file = (dir_ / "ticket-keys").string();
  start_relay();
  start_site();
  ASSERT_TRUE(registered());
  run_for(200ms);
  // Age the file past the rotation period: the next process rotates first.
  auto ring = **load_ticket_keys(relay_config_.ticket_key_file);
  ring.created -= relay_config_.ticket_key_rotation.count() + 1;
  ASSERT_TRUE(save_ticket_keys(relay_config_.ticket_key_file, ring).has_value());
  ASSERT_TRUE(restart_and_reconnect());
  auto rotated = **load_ticket_keys(relay_config_.ticket_key_file);
  EXPECT_NE(rotated.current, ring.current);
  ASSERT_TRUE(rotated.previous.has_value());
  EXPECT_EQ(*rotated.previous, ring.current);
  EXPECT_EQ(resumed(), 1u) << "a ticket under the previous key still resumes";
}

TEST_F(RelayRestart, AKeyFileOthersCanReadStopsTheStart) {
  relay_config_.ticket_key_file = (dir_ / "ticket-keys").string();
  start_relay();
  relay_.reset();
  ::chmod(relay_config_.ticket_key_file.c_str(), 0644);
  relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
  relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(kPolicy, "test-policy"), relay_config_, log_);
  auto ok = relay_->start();
  ASSERT_FALSE(ok.has_value());
  EXPECT_NE(ok.error().find("mode 644"), std::string::npos) << ok.error();
}

}  // namespace
}  // namespace dialout
