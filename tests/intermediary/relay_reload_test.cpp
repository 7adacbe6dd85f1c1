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
  auto& x = start_site("rogue", "office-x", "10.9.0.0/24", 0ms);
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

}  // namespace
}  // namespace dialout::hostile
