// Reloads re-check live sessions, against a real Relay and a legitimate pair
// (hostile_peer.hpp): a policy that drops a site's section closes it with a
// refusal it gives up on; a CRL that revokes a site's certificate closes its
// live sessions at once. The rest keep working.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/intermediary/hostile_peer.hpp"

namespace dialout::hostile {
namespace {

using namespace std::chrono_literals;

using RelayReload = HostileInput;

constexpr const char* kWithoutB = R"(
[identity site-a]
register = office-a
advertise = 10.1.0.0/24
reach = office-b

[identity rogue]
register = rogue-net
advertise = 10.9.0.0/24
reach = *
)";

TEST_F(RelayReload, SitesWhoseRightsAreGoneAreClosedWithAReasonAndReturnWhenTheyAreBack) {
  Raw rogue = open_registered();  // rogue-net stays allowed
  ASSERT_EQ(relay_->site_count(), 3u);
  relay_->replace_policy(*Policy::parse(kWithoutB, "new-policy"));
  EXPECT_TRUE(run_until([&] { return relay_->site_count() == 2; })) << log_text();
  EXPECT_EQ(relay_->counter(RelayCounter::ClosedByReload), 2u) << "office-b's two sessions";
  EXPECT_TRUE(logged({"'site-b'", "refused", to_string(RefuseReason::NameNotAllowed)})) << log_text();
  auto all_refused = [&] {
    auto st = b_->engine->uplink_status();
    return std::all_of(st.begin(), st.end(), [](const auto& u) { return u.state == "refused"; });
  };
  EXPECT_TRUE(run_until(all_refused)) << "office-b waits out a refusal only the policy can heal";
  // It does not come back while the policy says no, though it keeps asking
  // (slowly); office-a and rogue-net are untouched.
  run_until([] { return false; }, 1s);
  EXPECT_EQ(relay_->site_count(), 2u);
  EXPECT_EQ(b_->engine->exit_code(), 0) << "still running";
  EXPECT_EQ(a_->engine->ready_uplinks(), 2u);
  EXPECT_TRUE(pump(rogue));
  // The operator restores its rights: it is back at its next slow retry.
  relay_->replace_policy(*Policy::parse(kPolicy, "restored-policy"));
  EXPECT_TRUE(run_until([&] { return b_->engine->ready_uplinks() == 2 && relay_->site_count() == 3; }))
      << log_text();
}

TEST_F(RelayReload, ASiteToldNotToRetryRefusalsGivesUp) {
  // refused-retry-ms 0: a name the policy does not grant ends the daemon (78).
  auto& x = start_site("rogue", "office-x", "10.9.0.0/24", nullptr, 0ms);
  EXPECT_TRUE(run_until([&] { return x.engine->exit_code() == SiteEngine::kExitRefused; })) << log_text();
  EXPECT_EQ(a_->engine->ready_uplinks(), 2u);
  EXPECT_EQ(b_->engine->ready_uplinks(), 2u);
}

TEST_F(RelayReload, PolicyThatKeepsEveryoneClosesNothing) {
  relay_->replace_policy(*Policy::parse(kPolicy, "same-policy"));
  run_until([] { return false; }, 300ms);
  EXPECT_EQ(relay_->counter(RelayCounter::ClosedByReload), 0u);
  EXPECT_EQ(relay_->site_count(), 2u);
  expect_pair_works();
}

TEST_F(RelayReload, RevokedCertificateClosesLiveSessionsAtOnce) {
  pki_.revoke("site-b");
  auto start = Clock::now();
  ASSERT_TRUE(relay_->reload_crl().has_value());
  EXPECT_TRUE(run_until([&] { return relay_->counter(RelayCounter::ClosedByReload) == 2; }, 1s)) << log_text();
  EXPECT_LT(Clock::now() - start, 1s);
  EXPECT_TRUE(logged({"'site-b'", "revoked (CRL reloaded)"})) << log_text();
  // It cannot come back: its handshakes now fail.
  EXPECT_TRUE(run_until([&] { return relay_->counter(RelayCounter::HandshakeFailed) > 0; })) << log_text();
  EXPECT_EQ(a_->engine->ready_uplinks(), 2u);
}

// kPolicy plus a default DNS config for everyone.
std::string with_dns(const char* servers, const char* domains) {
  return fmt::format("{}\n[identity *]\ndns = {}\ndns-search = {}\n", kPolicy, servers, domains);
}

DnsConfig dns_of(const std::optional<Frame>& f) {
  if (!f) return DnsConfig{{*IpAddr::parse("192.0.2.1")}, {"no.frame"}};  // never equal to what a test wants
  auto d = decode_dns_config(f->payload);
  EXPECT_TRUE(d.has_value());
  return d ? *d : DnsConfig{};
}

// The wire: DNS_CONFIG right after ACCEPT (empty without a config), then
// only when a reload changes this session's config.
TEST_F(RelayReload, DnsConfigFollowsTheRegistrationAndChangingReloads) {
  Raw r = open_tls(pki_.client_files("rogue"));
  send_tls(r, frame_of(Hello{kProtocolVersion, kCapDnsConfig}));
  ASSERT_TRUE(wait_frame(r, MsgType::Hello).has_value());
  send_tls(r, frame_of(Register{"rogue-net", 0, {*Prefix::parse("10.9.0.0/24")}}));
  ASSERT_TRUE(wait_frame(r, MsgType::Accept).has_value());
  auto first = take_frame(r);
  if (!first) first = wait_frame(r, MsgType::DnsConfig);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type, MsgType::DnsConfig) << "the frame right after ACCEPT";
  EXPECT_TRUE(dns_of(first).empty()) << "the policy gives none yet";

  const DnsConfig office{{*IpAddr::parse("10.1.0.53"), *IpAddr::parse("fd00:1::53")}, {"office-a.lan"}};
  relay_->replace_policy(*Policy::parse(with_dns("10.1.0.53, fd00:1::53", "office-a.lan"), "dns-policy"));
  EXPECT_EQ(dns_of(wait_frame(r, MsgType::DnsConfig)), office);
  EXPECT_TRUE(logged({"policy reload: new DNS config sent to", "session(s)"})) << log_text();

  // The same config again: nothing is sent.
  relay_->replace_policy(*Policy::parse(with_dns("10.1.0.53, fd00:1::53", "office-a.lan"), "dns-policy"));
  run_until([] { return false; }, 300ms);
  ASSERT_TRUE(pump(r));
  while (auto f = take_frame(r)) EXPECT_NE(f->type, MsgType::DnsConfig) << "an unchanged config is not resent";

  relay_->replace_policy(*Policy::parse(kPolicy, "no-dns"));
  EXPECT_TRUE(dns_of(wait_frame(r, MsgType::DnsConfig)).empty()) << "taken away: an empty DNS_CONFIG";
  EXPECT_TRUE(pump(r)) << "the session stays up throughout";
}

// A real site: its DnsLink runs the hook with the config a reload brings,
// and `down` when the engine stops.
TEST_F(RelayReload, SiteAppliesDnsFromAReloadAndRemovesItOnStop) {
  std::vector<DnsCommand> ran;
  DnsLink link(DnsPlanSettings{DnsMethod::Hook, "dl0", "resolvectl", "/hook"}, site_log_,
               [&](const DnsCommand& c) {
                 ran.push_back(c);
                 return Expected<ProcessResult, std::string>(ProcessResult{0, ""});
               });
  Site& s = start_site("rogue", "rogue-net", "10.9.0.0/24", &link);
  ASSERT_TRUE(run_until([&] { return s.engine->ready_uplinks() == 2; }));
  run_until([] { return false; }, 100ms);
  EXPECT_TRUE(ran.empty()) << "no DNS in the policy: nothing to run";

  relay_->replace_policy(*Policy::parse(with_dns("10.1.0.53", "office-a.lan, corp.example"), "dns-policy"));
  ASSERT_TRUE(run_until([&] { return !ran.empty(); })) << log_text();
  run_until([] { return false; }, 100ms);
  ASSERT_EQ(ran.size(), 1u) << "both connections carry it; applied once";
  EXPECT_EQ(ran[0].argv, (std::vector<std::string>{"/hook", "up", "dl0"}));
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"DIALOUT_DNS_SERVERS=10.1.0.53",
                                                  "DIALOUT_DNS_DOMAINS=office-a.lan corp.example",
                                                  "DIALOUT_INTERFACE=dl0"}));
  s.engine.reset();  // stops it; gone before `link`, as in tund's main
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_EQ(ran[1].argv, (std::vector<std::string>{"/hook", "down", "dl0"}));
  EXPECT_TRUE(link.applied().empty());
}

}  // namespace
}  // namespace dialout::hostile
