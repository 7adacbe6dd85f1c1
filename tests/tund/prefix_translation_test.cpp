#include "tund/prefix_translation.hpp"

#include <gtest/gtest.h>

#include "netlib/vnet_header.hpp"
#include "tests/support/datagram_builder.hpp"

namespace dialout {
namespace {

using test::build_datagram;
using test::DatagramSpec;

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58;

PrefixMapping M(const char* text) { return *parse_prefix_mapping(text); }

// The office of the tests: its LAN 192.168.1.0/24 is 10.101.0.0/24 to
// everyone else; fd00:1::/64 is fd00:101::/64; 172.16.0.0/12 is
// 10.16.0.0/12 (host bits inside a byte).
const PrefixTranslation& office() {
  static const PrefixTranslation t({M("192.168.1.0/24 as 10.101.0.0/24"), M("fd00:1::/64 as fd00:101::/64"),
                                    M("172.16.0.0/12 as 10.16.0.0/12"), M("10.9.0.0/24")});
  return t;
}

DatagramSpec with(DatagramSpec s, const char* src, const char* dst) {
  s.src = src;
  s.dst = dst;
  return s;
}

struct Case {
  const char* what;
  DatagramSpec spec;     // as read from the LAN (outbound) or the tunnel (inbound)
  const char* src_after;
  const char* dst_after;
  unsigned rewritten;
};

// Outbound: the source is translated; every checksum equals one computed
// from scratch for the translated addresses.
TEST(PrefixTranslation, OutboundRewritesTheSourceAndEveryChecksum) {
  const Case cases[] = {
      {"TCP/IPv4", {"192.168.1.2", "10.102.0.2", kTcp}, "10.101.0.2", "10.102.0.2", 1},
      {"UDP/IPv4", {"192.168.1.77", "10.102.0.2", kUdp}, "10.101.0.77", "10.102.0.2", 1},
      {"UDP/IPv4 without checksum stays without", {"192.168.1.77", "10.102.0.2", kUdp, 40, false, true},
       "10.101.0.77", "10.102.0.2", 1},
      {"UDP/IPv4 odd length", {"192.168.1.77", "10.102.0.2", kUdp, 41}, "10.101.0.77", "10.102.0.2", 1},
      {"ICMP echo (no pseudo-header)", {"192.168.1.9", "10.102.0.2", kIcmp, 56, false, false, 8},
       "10.101.0.9", "10.102.0.2", 1},
      {"host bits inside a byte", {"172.31.5.9", "10.102.0.2", kTcp}, "10.31.5.9", "10.102.0.2", 1},
      {"TCP/IPv6", {"fd00:1::2", "fd00:102::2", kTcp}, "fd00:101::2", "fd00:102::2", 1},
      {"UDP/IPv6", {"fd00:1::2:3", "fd00:102::2", kUdp, 7}, "fd00:101::2:3", "fd00:102::2", 1},
      {"ICMPv6 echo (pseudo-header)", {"fd00:1::2", "fd00:102::2", kIcmp6, 56, false, false, 128},
       "fd00:101::2", "fd00:102::2", 1},
      {"a source outside the LAN is left alone", {"10.255.1.1", "10.102.0.2", kTcp}, "10.255.1.1", "10.102.0.2", 0},
      {"an untranslated advertise entry is left alone", {"10.9.0.5", "10.102.0.2", kUdp}, "10.9.0.5", "10.102.0.2",
       0},
      {"the destination is not the outbound field", {"10.102.0.2", "192.168.1.5", kUdp}, "10.102.0.2",
       "192.168.1.5", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = build_datagram(c.spec);
    EXPECT_EQ(office().outbound(p), c.rewritten);
    EXPECT_EQ(p, build_datagram(with(c.spec, c.src_after, c.dst_after)));
  }
}

TEST(PrefixTranslation, InboundRewritesTheDestination) {
  const Case cases[] = {
      {"TCP/IPv4", {"10.102.0.2", "10.101.0.2", kTcp}, "10.102.0.2", "192.168.1.2", 1},
      {"UDP/IPv4", {"10.102.0.2", "10.101.0.200", kUdp}, "10.102.0.2", "192.168.1.200", 1},
      {"ICMPv6 echo", {"fd00:102::2", "fd00:101::9", kIcmp6, 8, false, false, 128}, "fd00:102::2", "fd00:1::9", 1},
      {"the source is not the inbound field", {"10.101.0.2", "10.9.0.1", kTcp}, "10.101.0.2", "10.9.0.1", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = build_datagram(c.spec);
    EXPECT_EQ(office().inbound(p), c.rewritten);
    EXPECT_EQ(p, build_datagram(with(c.spec, c.src_after, c.dst_after)));
  }
}

// NEEDS_CSUM: the field holds the uncomplemented pseudo-header sum. It must
// become the pseudo-header sum of the new addresses (not complemented), so
// that completing it afterwards gives the right checksum.
TEST(PrefixTranslation, PartialChecksumOfAnOffloadedPacketStaysPartial) {
  const DatagramSpec specs[] = {
      {"192.168.1.2", "10.102.0.2", kTcp, 3000, true},
      {"192.168.1.2", "10.102.0.2", kUdp, 1200, true},
      {"fd00:1::2", "fd00:102::2", kTcp, 3000, true},
      {"fd00:1::2", "fd00:102::2", kUdp, 9, true},
  };
  for (const auto& s : specs) {
    SCOPED_TRACE(s.src + " proto " + std::to_string(s.protocol));
    auto p = build_datagram(s);
    const bool v4 = s.src.find(':') == std::string::npos;
    VnetHeader h{kVnetNeedsCsum, kVnetGsoNone, 0, 0, uint16_t(v4 ? 20 : 40), uint16_t(s.protocol == kTcp ? 16 : 6)};
    EXPECT_EQ(office().outbound(p, partial_checksum_at(h)), 1u);
    const char* src = v4 ? "10.101.0.2" : "fd00:101::2";
    EXPECT_EQ(p, build_datagram(with(s, src, s.dst.c_str())));
    ASSERT_TRUE(complete_checksum(h, p));
    auto full = s;
    full.partial = false;
    EXPECT_EQ(p, build_datagram(with(full, src, s.dst.c_str())));
  }
  // Treated as a full checksum, the same field would come out wrong: the
  // two cases really differ.
  DatagramSpec s{"192.168.1.2", "10.102.0.2", kTcp, 100, true};
  auto p = build_datagram(s);
  office().outbound(p);
  EXPECT_NE(p, build_datagram(with(s, "10.101.0.2", "10.102.0.2")));
}

TEST(PrefixTranslation, PartialChecksumElsewhereLeavesTheL4FieldOrdinary) {
  // NEEDS_CSUM pointing somewhere else (an encapsulated inner header): our
  // L4 field holds an ordinary checksum.
  DatagramSpec s{"192.168.1.2", "10.102.0.2", kUdp, 100};
  auto p = build_datagram(s);
  office().outbound(p, 20 + 8 + 16);
  EXPECT_EQ(p, build_datagram(with(s, "10.101.0.2", "10.102.0.2")));
  EXPECT_EQ(partial_checksum_at(VnetHeader{}), kNoPartialChecksum);
}


// ICMP errors quote the datagram they are about. Outbound (a LAN host
// answers a remote sender): outer source and quoted destination; inbound:
// outer destination and quoted source. Each quote is built from scratch
// with the translated address too, so its IPv4 header checksum, its L4
// checksum (when quoted) and the outer ICMP checksum are all checked.
DatagramSpec error(const char* src, const char* dst, uint8_t protocol, uint8_t type, uint8_t code, uint32_t rest,
                   std::vector<uint8_t> quote) {
  DatagramSpec s{src, dst, protocol};
  s.icmp_type = type;
  s.icmp_code = code;
  s.icmp_rest = rest;
  s.quote = std::move(quote);
  return s;
}

TEST(PrefixTranslation, IcmpErrorsTranslateTheQuotedDatagram) {
  // What the remote office sent, as the LAN host received it, and as the
  // remote office itself knows it.
  const DatagramSpec udp_in{"10.102.0.2", "192.168.1.2", kUdp, 30};
  const DatagramSpec udp_seen{"10.102.0.2", "10.101.0.2", kUdp, 30};
  const DatagramSpec tcp_in{"10.102.0.2", "192.168.1.2", kTcp, 1400};
  const DatagramSpec tcp_seen{"10.102.0.2", "10.101.0.2", kTcp, 1400};
  const DatagramSpec ping6_in{"fd00:102::2", "fd00:1::2", kIcmp6, 1400, false, false, 128};
  const DatagramSpec ping6_seen{"fd00:102::2", "fd00:101::2", kIcmp6, 1400, false, false, 128};
  auto q = [](const DatagramSpec& s, size_t n) { return test::first_bytes(build_datagram(s), n); };
  struct ErrorCase {
    const char* what;
    DatagramSpec before, after;
    unsigned rewritten;
  };
  const ErrorCase cases[] = {
      {"port unreachable, whole UDP quoted",
       error("192.168.1.2", "10.102.0.2", kIcmp, 3, 3, 0, q(udp_in, 999)),
       error("10.101.0.2", "10.102.0.2", kIcmp, 3, 3, 0, q(udp_seen, 999)), 2},
      {"fragmentation needed, TCP quoted with its checksum (40 bytes)",
       error("192.168.1.254", "10.102.0.2", kIcmp, 3, 4, 1280, q(tcp_in, 40)),
       error("10.101.0.254", "10.102.0.2", kIcmp, 3, 4, 1280, q(tcp_seen, 40)), 2},
      {"time exceeded from the gateway itself (outer source not in the LAN)",
       error("10.255.1.1", "10.102.0.2", kIcmp, 11, 0, 0, q(udp_in, 999)),
       error("10.255.1.1", "10.102.0.2", kIcmp, 11, 0, 0, q(udp_seen, 999)), 1},
      {"packet too big, ICMPv6 echo quoted",
       error("fd00:1::fe", "fd00:102::2", kIcmp6, 2, 0, 1280, q(ping6_in, 1232)),
       error("fd00:101::fe", "fd00:102::2", kIcmp6, 2, 0, 1280, q(ping6_seen, 1232)), 2},
      {"ICMPv6 port unreachable",
       error("fd00:1::2", "fd00:102::2", kIcmp6, 1, 4, 0,
             q({"fd00:102::2", "fd00:1::2", kUdp, 20}, 999)),
       error("fd00:101::2", "fd00:102::2", kIcmp6, 1, 4, 0,
             q({"fd00:102::2", "fd00:101::2", kUdp, 20}, 999)), 2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = build_datagram(c.before);
    EXPECT_EQ(office().outbound(p), c.rewritten);
    EXPECT_EQ(p, build_datagram(c.after));
  }
}

TEST(PrefixTranslation, AQuoteCutBeforeTheTcpChecksumLeavesItAlone) {
  // 28 bytes: IPv4 header + 8 bytes of TCP, as RFC 792 minimum. The TCP
  // checksum is not there; the quoted IPv4 header and ICMP checksum are fixed.
  const DatagramSpec tcp_in{"10.102.0.2", "192.168.1.2", kTcp, 100};
  const DatagramSpec tcp_seen{"10.102.0.2", "10.101.0.2", kTcp, 100};
  auto p = build_datagram(error("192.168.1.2", "10.102.0.2", kIcmp, 3, 4, 1280, test::first_bytes(build_datagram(tcp_in), 28)));
  EXPECT_EQ(office().outbound(p), 2u);
  EXPECT_EQ(p, build_datagram(error("10.101.0.2", "10.102.0.2", kIcmp, 3, 4, 1280,
                                    test::first_bytes(build_datagram(tcp_seen), 28))));
}

TEST(PrefixTranslation, InboundErrorTranslatesOuterDestinationAndQuotedSource) {
  // The remote office's router answers our LAN host's datagram, which it
  // saw from 10.101.0.2.
  const DatagramSpec sent_seen{"10.101.0.2", "10.102.0.7", kUdp, 30};
  const DatagramSpec sent_lan{"192.168.1.2", "10.102.0.7", kUdp, 30};
  auto p = build_datagram(error("10.102.0.254", "10.101.0.2", kIcmp, 3, 4, 1400, build_datagram(sent_seen)));
  EXPECT_EQ(office().inbound(p), 2u);
  EXPECT_EQ(p, build_datagram(error("10.102.0.254", "192.168.1.2", kIcmp, 3, 4, 1400, build_datagram(sent_lan))));
}

TEST(PrefixTranslation, FragmentsFirstGetsTheL4ChecksumLaterOnlyTheHeader) {
  for (const char* family : {"v4", "v6"}) {
    SCOPED_TRACE(family);
    const bool v4 = family[1] == '4';
    DatagramSpec s{v4 ? "192.168.1.2" : "fd00:1::2", v4 ? "10.102.0.2" : "fd00:102::2", kUdp, 3000};
    s.v6_fragment_header = !v4;
    auto t = with(s, v4 ? "10.101.0.2" : "fd00:101::2", s.dst.c_str());
    for (bool first : {true, false}) {
      auto p = test::fragment_of(build_datagram(s), 1480, first);
      EXPECT_EQ(office().outbound(p), 1u);
      EXPECT_EQ(p, test::fragment_of(build_datagram(t), 1480, first));
    }
  }
}

TEST(PrefixTranslation, ThereAndBackRestoresTheBytes) {
  const PrefixTranslation back({M("10.101.0.0/24 as 192.168.1.0/24"), M("fd00:101::/64 as fd00:1::/64")});
  const DatagramSpec specs[] = {
      {"192.168.1.2", "10.102.0.2", kTcp, 1000},
      {"192.168.1.2", "10.102.0.2", kUdp, 0, true},
      {"fd00:1::2", "fd00:102::2", kIcmp6, 64, false, false, 128},
      error("192.168.1.2", "10.102.0.2", kIcmp, 3, 3, 0, build_datagram({"10.102.0.2", "192.168.1.2", kUdp, 30})),
  };
  for (const auto& s : specs) {
    const auto original = build_datagram(s);
    auto p = original;
    ASSERT_GT(office().outbound(p, s.partial ? 26 : kNoPartialChecksum), 0u);
    EXPECT_NE(p, original);
    back.outbound(p, s.partial ? 26 : kNoPartialChecksum);
    EXPECT_EQ(p, original);
  }
}

TEST(PrefixTranslation, UnreadableOrOverrunningDatagramsAreLeftAlone) {
  auto good = build_datagram({"192.168.1.2", "10.102.0.2", kUdp, 30});
  std::vector<std::vector<uint8_t>> bad = {{}, {0x45}, test::first_bytes(good, 19), test::first_bytes(good, 40)};
  auto wrong_version = good;
  wrong_version[0] = 0x55;
  bad.push_back(wrong_version);
  auto short_ihl = good;
  short_ihl[0] = 0x44;
  bad.push_back(short_ihl);
  for (auto& p : bad) {
    const auto before = p;
    EXPECT_EQ(office().outbound(p), 0u);
    EXPECT_EQ(p, before);
  }
  EXPECT_TRUE(PrefixTranslation({M("10.9.0.0/24")}).empty());
}

}  // namespace
}  // namespace dialout
