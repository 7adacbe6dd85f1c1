// The proxy client is tund's last check before a datagram reaches the LAN.
// A frame that got past the relay (a relay bug, an older relay, a forged
// frame) with an offload header a peer must not use, or a source route, is
// dropped and counted here, with offloads off (tund would complete the
// checksum itself) and on (the kernel would), and never written to the TUN.
#include "tund/proxy_client.hpp"

#include <gtest/gtest.h>

#include "netlib/ip_packet.hpp"
#include "tests/support/offload_packets.hpp"
#include "tests/support/packets.hpp"
#include "tests/support/fake_tun.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;

// A received DATA frame, kept alive with the view decode_data() gives.
struct Received {
  std::vector<uint8_t> frame;
  DataView view;
};
Received received(std::vector<uint8_t> body, bool with_vnet) {
  Received r{test::data_frame(body, with_vnet), {}};
  auto d = decode_data(std::span<const uint8_t>(r.frame).subspan(kFrameHeaderSize));
  EXPECT_TRUE(d.has_value());
  if (d) r.view = *d;
  return r;
}

struct Forged {
  const char* what;
  std::vector<uint8_t> body;
  bool with_vnet;
  const char* error;
};

std::vector<Forged> forged_frames() {
  auto udp = test::ipv4_udp("10.9.0.2", "10.1.0.2", 4000, 53, std::string(64, 'q'));
  auto tcp = test::ipv4_tcp("10.9.0.2", "10.1.0.2", 40000, 443, 65 * 536, true);
  auto tcp_single = test::ipv4_tcp("10.9.0.2", "10.1.0.2", 40000, 443, 100, true);
  VnetHeader at_destination{.flags = kVnetNeedsCsum, .csum_start = 0, .csum_offset = 16};
  VnetHeader at_port = test::kernel_tcp4_header(0);
  at_port.csum_offset = 2;  // the TCP destination port, after a tcp/443 allow rule matched
  return {
      {"NEEDS_CSUM at the IPv4 destination", test::vnet_then(at_destination, udp), true,
       to_string(VnetError::CsumStartNotL4)},
      {"NEEDS_CSUM at the TCP destination port", test::vnet_then(at_port, tcp_single), true,
       to_string(VnetError::BadCsumOffset)},
      {"gso_size 1", test::vnet_then(test::kernel_tcp4_header(1), tcp), true, to_string(VnetError::GsoSizeTooSmall)},
      {"65 segments", test::vnet_then(test::kernel_tcp4_header(536), tcp), true,
       to_string(VnetError::TooManySegments)},
      {"LSRR option", test::ipv4_udp_lsrr("10.9.0.2", "10.1.0.2", "10.2.0.2", 4000, 53, "x"), false,
       to_string(PacketError::SourceRoute)},
  };
}

class ProxyClientChecks : public ::testing::TestWithParam<bool> {
 protected:
  bool offload() const { return GetParam(); }
  FakeTun tun_ = std::move(*FakeTun::create(GetParam()));
  SiteCounterSet counters_;
  ProxyClient proxy_{tun_, {*Prefix::parse("10.1.0.0/24")}, 1500, counters_};
};

TEST_P(ProxyClientChecks, ForgedFramesPastTheRelayAreDroppedAndCounted) {
  for (const auto& f : forged_frames()) {
    SCOPED_TRACE(f.what);
    const uint64_t dropped = counters_.get(SiteCounter::DropInvalid);
    auto r = received(f.body, f.with_vnet);
    auto ok = proxy_.deliver(r.view);
    ASSERT_FALSE(ok) << "delivered";
    EXPECT_STREQ(ok.error(), f.error);
    EXPECT_EQ(counters_.get(SiteCounter::DropInvalid), dropped + 1);
    EXPECT_FALSE(tun_.receive(0ms).has_value()) << "nothing was written to the TUN device";
  }
  EXPECT_EQ(counters_.get(SiteCounter::RxPackets), 0u);
}

TEST_P(ProxyClientChecks, KernelLikeFramesAreStillWritten) {
  auto tcp = test::ipv4_tcp("10.9.0.2", "10.1.0.2", 40000, 443, 3 * 1448, true);
  auto r = received(test::vnet_then(test::kernel_tcp4_header(1448), tcp), true);
  auto ok = proxy_.deliver(r.view);
  ASSERT_TRUE(ok) << ok.error();
  std::vector<std::vector<uint8_t>> written;
  while (auto p = tun_.receive(0ms)) written.push_back(std::move(*p));
  if (offload()) {
    ASSERT_EQ(written.size(), 1u) << "the superpacket goes to the kernel whole";
    EXPECT_EQ(written[0], test::vnet_then(test::kernel_tcp4_header(1448), tcp));
  } else {
    ASSERT_EQ(written.size(), 3u) << "cut into MSS-sized segments";
    for (const auto& p : written) EXPECT_TRUE(test::ipv4_checksums_ok(p));
  }
  EXPECT_EQ(counters_.get(SiteCounter::DropInvalid), 0u);
}

// advertise '192.168.1.0/24 as 10.101.0.0/24': the relay routes 10.101.0.2
// here, the LAN gets 192.168.1.2. A kernel superpacket's partial checksum is
// translated as a partial sum: passed on whole (offloads), or completed
// while cut into segments here, where every checksum must verify.
TEST_P(ProxyClientChecks, TranslatedDestinationWithItsPartialChecksum) {
  const PrefixTranslation translation({*parse_prefix_mapping("192.168.1.0/24 as 10.101.0.0/24")});
  FakeTun tun = std::move(*FakeTun::create(offload()));
  // 10.50.0.0/24 is served too but not translated (advertised as is).
  ProxyClient proxy(tun, {*Prefix::parse("10.101.0.0/24"), *Prefix::parse("10.50.0.0/24")}, 1500, counters_,
                    &translation);
  auto tcp = test::ipv4_tcp("10.9.0.2", "10.101.0.2", 40000, 443, 3 * 1448, true);
  auto r = received(test::vnet_then(test::kernel_tcp4_header(1448), tcp), true);
  const auto frame = r.frame;
  auto ok = proxy.deliver(r.view);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(r.frame, frame) << "the uplink's bytes are not written to";
  std::vector<std::vector<uint8_t>> written;
  while (auto p = tun.receive(0ms)) written.push_back(std::move(*p));
  auto lan = test::ipv4_tcp("10.9.0.2", "192.168.1.2", 40000, 443, 3 * 1448, true);
  if (offload()) {
    ASSERT_EQ(written.size(), 1u);
    EXPECT_EQ(written[0], test::vnet_then(test::kernel_tcp4_header(1448), lan));
  } else {
    ASSERT_EQ(written.size(), 3u);
    for (const auto& p : written) {
      EXPECT_TRUE(test::ipv4_checksums_ok(p));
      EXPECT_EQ(parse_ip_packet(p)->dst, *IpAddr::parse("192.168.1.2"));
    }
  }
  EXPECT_EQ(counters_.get(SiteCounter::TranslatedIn), 1u) << "a superpacket counts once, however it is written";
  // A plain datagram (a peer without offloads): a zero header in front on a
  // vnet TUN device, none otherwise.
  auto plain = received(test::ipv4_udp("10.9.0.2", "10.101.0.7", 4000, 53, "hello"), false);
  ASSERT_TRUE(proxy.deliver(plain.view));
  auto udp_lan = test::ipv4_udp("10.9.0.2", "192.168.1.7", 4000, 53, "hello");
  auto got = tun.receive(0ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, offload() ? test::vnet_then(VnetHeader{}, udp_lan) : udp_lan);
  EXPECT_EQ(counters_.get(SiteCounter::TranslatedIn), 2u);
  // Served but outside every mapping: written unchanged, not counted.
  auto as_is = test::ipv4_udp("10.9.0.2", "10.50.0.7", 4000, 53, "as is");
  auto direct = received(as_is, false);
  ASSERT_TRUE(proxy.deliver(direct.view));
  got = tun.receive(0ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, offload() ? test::vnet_then(VnetHeader{}, as_is) : as_is);
  EXPECT_EQ(counters_.get(SiteCounter::TranslatedIn), 2u);
  EXPECT_EQ(counters_.get(SiteCounter::RxPackets), 3u);
  // The LAN's own numbering is not served: only the relay's view is.
  auto inside = received(test::ipv4_udp("10.9.0.2", "192.168.1.2", 4000, 53, "x"), false);
  auto refused = proxy.deliver(inside.view);
  ASSERT_FALSE(refused);
  EXPECT_STREQ(refused.error(), "destination is not on this site's networks");
  EXPECT_EQ(counters_.get(SiteCounter::TranslatedIn), 2u) << "refused before translation";
}

INSTANTIATE_TEST_SUITE_P(Offload, ProxyClientChecks, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "On" : "Off"; });

}  // namespace
}  // namespace dialout
