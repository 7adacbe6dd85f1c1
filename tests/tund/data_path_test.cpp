// The router role never loses legitimate traffic to the intermediary's
// offload bounds: what its own kernel hands it beyond them (a superpacket
// of more than kMaxGsoSegments segments or with a small MSS, a checksum to
// complete somewhere other than the TCP/UDP field) is finished by tund and
// sent as ordinary datagrams; what is within them still travels whole. A
// real relay and two sites with offload-enabled in-memory TUNs, one loop.
#include "tund/data_path.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "intermediary/relay.hpp"
#include "netlib/ip_packet.hpp"
#include "tests/support/in_process.hpp"
#include "tests/support/offload_packets.hpp"
#include "tests/support/packets.hpp"
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

struct Site {
  std::unique_ptr<FakeTun> tun;
  MemoryRouteInstaller routes;
  MemoryHostNetwork host;
  SiteConfig config;
  std::unique_ptr<TlsContext> tls;
  std::unique_ptr<SiteEngine> engine;
};

class RouterOffload : public ::testing::Test {
 protected:
  void SetUp() override {
    relay_config_ = in_process_relay_config(pki_);
    relay_tls_ = std::make_unique<TlsContext>(std::move(*TlsContext::server(relay_config_.tls)));
    relay_ = std::make_unique<Relay>(loop_, *relay_tls_, *Policy::parse(policy_, "test-policy"), relay_config_, log_);
    ASSERT_TRUE(relay_->start().has_value());
    start_site(a_, "site-a", "office-a", prefix_a_, translation_a_);
    start_site(b_, "site-b", "office-b", prefix_b_, translation_b_);
    ASSERT_TRUE(run_until([&] {
      return a_.engine->ready_uplinks() == 1 && b_.engine->ready_uplinks() == 1 &&
             a_.engine->routes().lookup(*IpAddr::parse(b_probe_)).has_value();
    }));
  }

  void start_site(Site& s, const std::string& identity, const std::string& name, const char* prefix,
                  std::vector<PrefixMapping> translations) {
    s.tun = std::make_unique<FakeTun>(std::move(*FakeTun::create(/*vnet_hdr=*/true)));
    s.config = in_process_site_config(pki_, relay_->port(), identity, name, prefix);
    s.config.translations = std::move(translations);
    s.config.connections = 1;
    s.tls = std::make_unique<TlsContext>(std::move(*TlsContext::client(s.config.tls)));
    s.engine = std::make_unique<SiteEngine>(loop_, *s.tls, std::vector<Tun*>{s.tun.get()}, s.routes, s.host, s.config, log_);
    s.engine->start();
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = 5s) {
    return run_loop_until(loop_, pred, limit, 2ms);
  }

  // Everything b's TUN is given, until `count` writes have arrived.
  std::vector<std::vector<uint8_t>> receive_at_b(size_t count) {
    std::vector<std::vector<uint8_t>> got;
    run_until([&] {
      while (auto p = b_.tun->receive(0ms)) got.push_back(std::move(*p));
      return got.size() >= count;
    });
    return got;
  }

  // What the relay's policy says and the sites advertise (a derived fixture
  // may change them in its constructor).
  const char* policy_ = kPolicy;
  const char* prefix_a_ = "10.1.0.0/24";
  const char* prefix_b_ = "10.2.0.0/24";
  const char* b_probe_ = "10.2.0.2";  // an address of b's as a sees it
  std::vector<PrefixMapping> translation_a_, translation_b_;

  TestPki pki_;
  Logger log_{"test", LogLevel::Warn};
  EventLoop loop_;
  RelayConfig relay_config_;
  std::unique_ptr<TlsContext> relay_tls_;
  std::unique_ptr<Relay> relay_;
  Site a_, b_;
};

constexpr uint8_t kZeroHeader[kVnetHeaderSize] = {};

// Superpackets beyond a peer's bounds, as a kernel may build them: each is
// cut at a and arrives at b as MSS-sized datagrams with an empty offload
// header, checksums complete, the byte stream intact.
TEST_F(RouterOffload, OwnSuperpacketsBeyondThePeerBoundsAreCutBeforeSending) {
  struct Case {
    const char* what;
    uint16_t gso_size;
    size_t segments;
  };
  const Case cases[] = {
      {"75 segments (more than kMaxGsoSegments)", 536, 75},
      {"a peer announced MSS 100", 100, 10},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_GT(c.segments * c.gso_size, 0u);
    const uint64_t forwarded = relay_->counters().frames_forwarded;
    const uint64_t malformed = relay_->counters().drop_malformed;
    const uint64_t sent = value_of(a_.engine->counters(), SiteCounter::TxPackets);
    auto tcp = test::ipv4_tcp("10.1.0.2", "10.2.0.2", 40000, 443, c.segments * c.gso_size, true);
    ASSERT_TRUE(a_.tun->inject(test::vnet_then(test::kernel_tcp4_header(c.gso_size), tcp)).has_value());

    auto got = receive_at_b(c.segments);
    ASSERT_EQ(got.size(), c.segments);
    std::vector<uint8_t> stream;
    for (const auto& w : got) {
      ASSERT_EQ(w.size(), kVnetHeaderSize + 40 + c.gso_size);
      EXPECT_TRUE(std::equal(w.begin(), w.begin() + kVnetHeaderSize, kZeroHeader)) << "an ordinary datagram";
      std::span<const uint8_t> packet = std::span(w).subspan(kVnetHeaderSize);
      EXPECT_TRUE(test::ipv4_checksums_ok(packet));
      stream.insert(stream.end(), packet.begin() + 40, packet.end());
    }
    EXPECT_TRUE(std::equal(stream.begin(), stream.end(), tcp.begin() + 40, tcp.end())) << "in order, unchanged";
    EXPECT_EQ(relay_->counters().frames_forwarded, forwarded + c.segments);
    EXPECT_EQ(relay_->counters().drop_malformed, malformed) << "the relay refused none of it";
    EXPECT_EQ(value_of(a_.engine->counters(), SiteCounter::TxPackets), sent + c.segments);
    EXPECT_EQ(value_of(a_.engine->counters(), SiteCounter::DropInvalid), 0u);
  }
}

TEST_F(RouterOffload, SuperpacketsWithinTheBoundsStillTravelWhole) {
  auto tcp = test::ipv4_tcp("10.1.0.2", "10.2.0.2", 40000, 443, 20 * 1448, true);
  const auto whole = test::vnet_then(test::kernel_tcp4_header(1448), tcp);
  ASSERT_TRUE(a_.tun->inject(whole).has_value());
  auto got = receive_at_b(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], whole) << "one superpacket, header and all";
  EXPECT_EQ(relay_->counters().frames_forwarded, 1u);
}

// A checksum the kernel left for "the hardware" inside a tunnel packet (the
// inner TCP header of a UDP-encapsulated datagram): a peer may not send
// that position, so a completes the checksum itself and sends it plain.
TEST_F(RouterOffload, OwnChecksumOffloadAtAnotherPositionIsCompletedBeforeSending) {
  auto inner = test::ipv4_tcp("192.168.7.1", "192.168.7.2", 5000, 22, 100, true);
  auto outer = test::ipv4_udp("10.1.0.2", "10.2.0.2", 4789, 4789, std::string(inner.begin(), inner.end()));
  outer[26] = outer[27] = 0;  // no outer UDP checksum, as tunnels over IPv4 send
  VnetHeader header{.flags = kVnetNeedsCsum, .csum_start = 20 + 8 + 20, .csum_offset = 16};
  ASSERT_FALSE(header.validate(outer)) << "not a position a peer may send";
  ASSERT_TRUE(a_.tun->inject(test::vnet_then(header, outer)).has_value());

  auto got = receive_at_b(1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].size(), kVnetHeaderSize + outer.size());
  EXPECT_TRUE(std::equal(got[0].begin(), got[0].begin() + kVnetHeaderSize, kZeroHeader));
  std::span<const uint8_t> inner_got = std::span(got[0]).subspan(kVnetHeaderSize + 28);
  EXPECT_TRUE(test::ipv4_checksums_ok(inner_got)) << "the inner checksum was completed";
  EXPECT_EQ(relay_->counters().drop_malformed, 0u);
}

// What is invalid even from our own kernel is still dropped and counted.
TEST_F(RouterOffload, SourceRoutedDatagramsFromTheLanAreDroppedAndCounted) {
  auto lsrr = test::ipv4_udp_lsrr("10.1.0.2", "10.2.0.2", "10.2.0.9", 1, 2, "via");
  ASSERT_TRUE(a_.tun->inject(test::vnet_then(VnetHeader{}, lsrr)).has_value());
  ASSERT_TRUE(run_until([&] { return value_of(a_.engine->counters(), SiteCounter::DropInvalid) == 1; }));
  auto fine = test::ipv4_udp("10.1.0.2", "10.2.0.2", 1, 2, "fine");
  ASSERT_TRUE(a_.tun->inject(test::vnet_then(VnetHeader{}, fine)).has_value());
  auto got = receive_at_b(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], test::vnet_then(VnetHeader{}, fine)) << "the first datagram b sees is the legitimate one";
  EXPECT_EQ(relay_->counters().frames_forwarded, 1u);
}

// Two offices on the same 192.168.1.0/24, advertised as 10.101.0.0/24 and
// 10.102.0.0/24: the relay (whose policy names only those) forwards what
// a's data path translated; b's proxy client translates it back into its
// LAN. A kernel superpacket keeps its offload header and its partial
// checksum, translated as a partial sum at both ends.
class TranslatedOffices : public RouterOffload {
 protected:
  TranslatedOffices() {
    policy_ = kTranslatedPolicy;
    prefix_a_ = "10.101.0.0/24";
    prefix_b_ = "10.102.0.0/24";
    b_probe_ = "10.102.0.2";
    translation_a_ = {*parse_prefix_mapping("192.168.1.0/24 as 10.101.0.0/24")};
    translation_b_ = {*parse_prefix_mapping("192.168.1.0/24 as 10.102.0.0/24")};
  }
  static constexpr const char* kTranslatedPolicy = R"(
[identity site-a]
register = office-a
advertise = 10.101.0.0/24
reach = office-b

[identity site-b]
register = office-b
advertise = 10.102.0.0/24
reach = office-a
)";
};

TEST_F(TranslatedOffices, BothEndsTranslateSuperpacketsAndPlainDatagrams) {
  auto tcp = test::ipv4_tcp("192.168.1.2", "10.102.0.2", 40000, 443, 20 * 1448, true);
  ASSERT_TRUE(a_.tun->inject(test::vnet_then(test::kernel_tcp4_header(1448), tcp)).has_value());
  auto udp = test::ipv4_udp("192.168.1.2", "10.102.0.9", 5000, 53, "who is there?");
  ASSERT_TRUE(a_.tun->inject(test::vnet_then(VnetHeader{}, udp)).has_value());
  // Already in the outside range (the gateway's own numbering): sent as is,
  // so not counted as translated at a.
  auto untranslated = test::ipv4_udp("10.101.0.3", "10.102.0.9", 5001, 53, "as is, please");
  ASSERT_TRUE(a_.tun->inject(test::vnet_then(VnetHeader{}, untranslated)).has_value());
  auto got = receive_at_b(3);
  ASSERT_EQ(got.size(), 3u);
  // The small datagrams travel on the urgent lane and may overtake.
  std::sort(got.begin(), got.end(), [](const auto& x, const auto& y) { return x.size() > y.size(); });
  auto tcp_lan = test::ipv4_tcp("10.101.0.2", "192.168.1.2", 40000, 443, 20 * 1448, true);
  EXPECT_EQ(got[0], test::vnet_then(test::kernel_tcp4_header(1448), tcp_lan)) << "whole, partial sum translated";
  EXPECT_EQ(got[1], test::vnet_then(VnetHeader{}, test::ipv4_udp("10.101.0.2", "192.168.1.9", 5000, 53, "who is there?")));
  auto as_is_lan = test::ipv4_udp("10.101.0.3", "192.168.1.9", 5001, 53, "as is, please");
  EXPECT_EQ(got[2], test::vnet_then(VnetHeader{}, as_is_lan));
  EXPECT_EQ(relay_->counters().drop_spoofed_source, 0u) << "the relay saw only 10.101.0.2 as the source";
  EXPECT_EQ(value_of(b_.engine->counters(), SiteCounter::DropInvalid), 0u);
  // A superpacket counts once; the datagram already outside is not counted
  // at a, and every one has its destination rewritten at b.
  EXPECT_EQ(value_of(a_.engine->counters(), SiteCounter::TxPackets), 3u);
  EXPECT_EQ(value_of(a_.engine->counters(), SiteCounter::TranslatedOut), 2u);
  EXPECT_EQ(value_of(a_.engine->counters(), SiteCounter::TranslatedIn), 0u);
  EXPECT_EQ(value_of(b_.engine->counters(), SiteCounter::TranslatedIn), 3u);
  EXPECT_EQ(value_of(b_.engine->counters(), SiteCounter::TranslatedOut), 0u);
}

}  // namespace
}  // namespace dialout
