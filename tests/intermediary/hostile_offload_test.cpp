// A registered rogue site (a valid certificate, behaving badly) sends DATA
// frames that are well formed on the wire but would reach past its rights:
// an offload header whose checksum position rewrites the datagram after the
// relay has judged it, a superpacket asking the receiving kernel for
// thousands of segments, and a source-routed datagram whose real next hop
// policy never looked at (issue 9, items 1, 2, 7). Each is dropped and
// counted at the relay and logged with the peer and the reason; nothing of
// it reaches the target site, and the legitimate pair keeps working.
#include <gtest/gtest.h>

#include "intermediary/forwarder.hpp"
#include "tests/intermediary/hostile_peer.hpp"
#include "tests/support/offload_packets.hpp"

namespace dialout::hostile {
namespace {

using namespace std::chrono_literals;

struct ForgedCase {
  const char* what;
  std::vector<uint8_t> frame;
  DropReason reason;
};

// All from the rogue's own prefix to office-a, which the rogue may reach.
std::vector<ForgedCase> forged_cases() {
  // NEEDS_CSUM without GSO, at offset 0 + 16: "completing the checksum"
  // would overwrite the IPv4 destination address behind the relay's back.
  auto udp = test::ipv4_udp("10.9.0.2", "10.1.0.2", 4000, 53, std::string(64, 'q'));
  VnetHeader at_destination{.flags = kVnetNeedsCsum, .csum_start = 0, .csum_offset = 16};
  // A kernel-like TCP superpacket, but with gso_size 1: 4000 segments.
  auto tcp = test::ipv4_tcp("10.9.0.2", "10.1.0.2", 40000, 443, 4000, true);
  return {
      {"NEEDS_CSUM pointing at the IP destination address",
       test::data_frame(test::vnet_then(at_destination, udp), true), DropReason::BadOffloadHeader},
      {"TCP superpacket with gso_size 1", test::data_frame(test::vnet_then(test::kernel_tcp4_header(1), tcp), true),
       DropReason::BadOffloadHeader},
      {"datagram with an LSRR option",
       test::data_frame(test::ipv4_udp_lsrr("10.9.0.2", "10.1.0.2", "10.2.0.2", 4000, 53, "via office-b"), false),
       DropReason::SourceRouted},
  };
}

TEST_F(HostileInput, ForgedOffloadHeadersAndSourceRoutesAreDroppedAtTheRelay) {
  for (const auto& c : forged_cases()) {
    SCOPED_TRACE(c.what);
    // A fresh session per case: drop logs are limited per session as well
    // as per reason, and each case must show its own line.
    const size_t sessions = relay_->session_count();
    Raw r = open_registered();
    lines_.clear();
    const uint64_t malformed = relay_->counter(RelayCounter::DropMalformed);
    const uint64_t forwarded = relay_->counter(RelayCounter::FramesForwarded);
    send_tls(r, c.frame);
    ASSERT_TRUE(run_until([&] { return relay_->counter(RelayCounter::DropMalformed) > malformed; })) << log_text();
    EXPECT_EQ(relay_->counter(RelayCounter::DropMalformed), malformed + 1);
    EXPECT_EQ(relay_->counter(RelayCounter::FramesForwarded), forwarded) << "nothing of it was forwarded";
    EXPECT_TRUE(logged({r.local, "'rogue-net'", "'rogue'", to_string(c.reason)})) << log_text();
    // office-a's TUN must see the pair's datagram first: the forged one never arrived.
    expect_pair_works();
    EXPECT_TRUE(pump(r)) << "only the frame was dropped, not the session";
    r = Raw{};
    ASSERT_TRUE(run_until([&] { return relay_->session_count() == sessions; })) << "the rogue left before the next case";
  }
}

TEST_F(HostileInput, AFloodOfForgedOffloadHeadersIsCountedInFullButLoggedSparingly) {
  Raw r = open_registered();
  const auto frame = forged_cases().front().frame;
  const uint64_t malformed = relay_->counter(RelayCounter::DropMalformed);
  constexpr int kFrames = 40;
  std::vector<uint8_t> burst;
  for (int i = 0; i < kFrames; ++i) burst.insert(burst.end(), frame.begin(), frame.end());
  lines_.clear();
  send_tls(r, burst);
  ASSERT_TRUE(run_until([&] { return relay_->counter(RelayCounter::DropMalformed) == malformed + kFrames; })) << log_text();
  const auto reason = to_string(DropReason::BadOffloadHeader);
  const auto lines = std::count_if(lines_.begin(), lines_.end(),
                                   [&](const std::string& l) { return l.find(reason) != l.npos; });
  EXPECT_GE(lines, 1) << "the peer and the reason are logged";
  EXPECT_LT(lines, kFrames / 4) << "but rate-limited, not once per frame";
  expect_pair_works();
}

// The check refuses what it must and no more: the rogue's own well-formed
// superpacket (kernel-like header, MSS-sized segments) still goes through,
// and office-a's proxy client (offloads off) cuts it into valid segments.
TEST_F(HostileInput, AWellFormedSuperpacketFromTheSameSiteIsStillForwarded) {
  Raw r = open_registered();
  const uint64_t forwarded = relay_->counter(RelayCounter::FramesForwarded);
  auto tcp = test::ipv4_tcp("10.9.0.2", "10.1.0.2", 40000, 443, 3 * 1448, true);
  send_tls(r, test::data_frame(test::vnet_then(test::kernel_tcp4_header(1448), tcp), true));
  std::vector<std::vector<uint8_t>> got;
  ASSERT_TRUE(run_until([&] {
    while (auto p = a_->tun->receive(0ms)) got.push_back(std::move(*p));
    return got.size() >= 3;
  })) << log_text();
  EXPECT_EQ(relay_->counter(RelayCounter::FramesForwarded), forwarded + 1) << "one superpacket, forwarded whole";
  for (const auto& p : got) {
    EXPECT_EQ(p.size(), 40u + 1448u);
    EXPECT_TRUE(test::ipv4_checksums_ok(p));
  }
  expect_pair_works();
}

}  // namespace
}  // namespace dialout::hostile
