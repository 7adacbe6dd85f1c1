#include "netlib/vnet_header.hpp"

#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "tests/netlib/vnet_test_packets.hpp"

namespace dialout {
namespace {

using namespace vnet_test;

TEST(VnetHeader, DecodeEncodeRoundTrip) {
  const std::array<uint8_t, 10> wire = {0x01, 0x81, 0x42, 0x00, 0xa8, 0x05, 0x14, 0x00, 0x10, 0x00};
  auto h = VnetHeader::decode(wire);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->flags, kVnetNeedsCsum);
  EXPECT_EQ(h->gso_type, kVnetGsoTcpV4 | kVnetGsoEcn);
  EXPECT_EQ(h->hdr_len, 66);
  EXPECT_EQ(h->gso_size, 1448);
  EXPECT_EQ(h->csum_start, 20);
  EXPECT_EQ(h->csum_offset, 16);
  std::array<uint8_t, 10> out{};
  h->encode(out);
  EXPECT_EQ(out, wire);
  auto short_header = VnetHeader::decode(std::span(wire).first(9));
  ASSERT_FALSE(short_header);
  EXPECT_EQ(short_header.error(), VnetError::Truncated);
}

struct BadCase {
  const char* what;
  Spec spec;
  void (*mutate)(VnetHeader&, std::vector<uint8_t>&);
  VnetError expected;
};

TEST(VnetHeader, RejectsMalformedHeaders) {
  const Spec tcp4{}, tcp6{.version = 6}, udp4{.proto = kUdp};
  const BadCase cases[] = {
      {"unknown flag", tcp4, [](VnetHeader& h, auto&) { h.flags |= 0x04; }, VnetError::UnknownFlags},
      {"UFO", udp4, [](VnetHeader& h, auto&) { h.gso_type = 3; }, VnetError::BadGsoType},
      {"type 2", tcp4, [](VnetHeader& h, auto&) { h.gso_type = 2; }, VnetError::BadGsoType},
      {"ECN on UDP", udp4, [](VnetHeader& h, auto&) { h.gso_type |= kVnetGsoEcn; }, VnetError::BadGsoType},
      {"ECN alone", tcp4, [](VnetHeader& h, auto&) { h.gso_type = kVnetGsoEcn; }, VnetError::BadGsoType},
      {"gso_size 0", tcp4, [](VnetHeader& h, auto&) { h.gso_size = 0; }, VnetError::ZeroGsoSize},
      {"hdr_len too long", tcp4, [](VnetHeader& h, auto& p) { h.hdr_len = static_cast<uint16_t>(p.size() + 1); },
       VnetError::HdrLenTooLong},
      {"csum beyond packet", tcp4,
       [](VnetHeader& h, auto& p) {
         h.gso_type = kVnetGsoNone;
         h.csum_start = static_cast<uint16_t>(p.size() - 1);
         h.csum_offset = 0;
       },
       VnetError::CsumOutOfRange},
      {"csum not at TCP field", tcp4, [](VnetHeader& h, auto&) { h.csum_offset = 6; }, VnetError::BadCsumOffset},
      {"csum_start not at L4", tcp6, [](VnetHeader& h, auto&) { h.csum_start = 20; }, VnetError::CsumStartNotL4},
      {"TCPv4 on IPv6", tcp6, [](VnetHeader& h, auto&) { h.gso_type = kVnetGsoTcpV4; }, VnetError::NotIpv4},
      {"TCPv6 on IPv4", tcp4, [](VnetHeader& h, auto&) { h.gso_type = kVnetGsoTcpV6; }, VnetError::NotIpv6},
      {"UDP GSO on TCP", tcp4, [](VnetHeader& h, auto&) { h.gso_type = kVnetGsoUdpL4; }, VnetError::ProtocolMismatch},
      {"TCP GSO on UDP", udp4, [](VnetHeader& h, auto&) { h.gso_type = kVnetGsoTcpV4; }, VnetError::ProtocolMismatch},
      {"IPv4 total length", tcp4, [](VnetHeader&, auto& p) { wr16(&p[2], p.size() - 1); }, VnetError::BadIpHeader},
      {"IPv4 IHL 4", tcp4, [](VnetHeader&, auto& p) { p[0] = 0x44; }, VnetError::BadIpHeader},
      {"IPv6 payload length", tcp6, [](VnetHeader&, auto& p) { wr16(&p[4], 0); }, VnetError::BadIpHeader},
      {"version 5", udp4, [](VnetHeader&, auto& p) { p[0] = 0x55; }, VnetError::BadIpHeader},
      {"IPv4 more fragments", tcp4, [](VnetHeader&, auto& p) { p[6] |= 0x20; }, VnetError::Fragment},
      {"IPv6 fragment header", tcp6, [](VnetHeader&, auto& p) { p[6] = 44; }, VnetError::Fragment},
      {"IPv6 routing header", tcp6, [](VnetHeader&, auto& p) { p[6] = 43; }, VnetError::BadIpHeader},
      {"TCP data offset 4", tcp4, [](VnetHeader&, auto& p) { p[32] = 0x40; }, VnetError::BadL4Header},
      {"TCP options past end", Spec{.payload = 10},
       [](VnetHeader& h, auto& p) {
         p[32] = 0xf0;
         h.flags = 0;
       },
       VnetError::BadL4Header},
      {"no payload", Spec{.payload = 0}, [](VnetHeader&, auto&) {}, VnetError::EmptyPayload},
      {"IPv4 header cut", tcp4,
       [](VnetHeader& h, auto& p) {
         p.resize(12);
         h = VnetHeader{.gso_type = kVnetGsoTcpV4, .gso_size = 1000};
       },
       VnetError::BadIpHeader},
      {"TCP GSO, checksum into the IPv4 header", Spec{.payload = 1000},
       [](VnetHeader& h, auto&) { h.csum_start = 4; },  // offset 16 then names the TCP source port
       VnetError::CsumStartNotL4},
      {"empty packet", tcp6,
       [](VnetHeader& h, auto& p) {
         p.clear();
         h = VnetHeader{.gso_type = kVnetGsoTcpV6, .gso_size = 1000};
       },
       VnetError::NotIpv6},
  };
  for (const auto& c : cases) {
    auto packet = build(c.spec);
    auto header = gso_header(c.spec, 1000);
    c.mutate(header, packet);
    auto r = header.validate(packet);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error(), c.expected) << c.what << ": got " << to_string(r.error());
    std::array<uint8_t, 4096> storage{};
    std::array<std::span<uint8_t>, 8> out{};
    auto s = segment(header, packet, 1500, storage, out);
    ASSERT_FALSE(s) << c.what;
    EXPECT_EQ(s.error(), c.expected) << c.what;
  }
}

// A single packet whose checksum is left to the receiver.
void single(VnetHeader& h) { h.gso_type = kVnetGsoNone, h.gso_size = 0; }

// A header that completes a checksum anywhere but the L4 checksum field lets
// a peer rewrite 16 bits of the packet after policy has judged it (issue 9,
// item 1); a superpacket without sane bounds makes the receiving kernel cut
// tens of thousands of segments (item 2).

TEST(VnetHeader, RejectsChecksumPositionsAndGsoBoundsAPeerMustNotUse) {
  const BadCase cases[] = {
      {"no GSO, csum_start 0 and offset 16 (the IPv4 destination)", Spec{},
       [](VnetHeader& h, auto&) { single(h), h.csum_start = 0, h.csum_offset = 16; }, VnetError::CsumStartNotL4},
      {"no GSO, checksum into the IPv4 header", Spec{},
       [](VnetHeader& h, auto&) { single(h), h.csum_start = 12, h.csum_offset = 4; }, VnetError::CsumStartNotL4},
      {"no GSO, checksum into the IPv6 destination", Spec{.version = 6},
       [](VnetHeader& h, auto&) { single(h), h.csum_start = 24, h.csum_offset = 16; }, VnetError::CsumStartNotL4},
      {"no GSO, TCP offset 2 (the destination port)", Spec{},
       [](VnetHeader& h, auto&) { single(h), h.csum_offset = 2; }, VnetError::BadCsumOffset},
      {"no GSO, UDP offset 16", Spec{.proto = kUdp},
       [](VnetHeader& h, auto&) { single(h), h.csum_offset = 16; }, VnetError::BadCsumOffset},
      {"no GSO, NEEDS_CSUM on ICMP", Spec{},
       [](VnetHeader& h, auto& p) { single(h), p[9] = 1; }, VnetError::CsumUnsupportedL4},
      {"no GSO, NEEDS_CSUM on a fragment", Spec{},
       [](VnetHeader& h, auto& p) { single(h), p[6] |= 0x20; }, VnetError::Fragment},
      {"no GSO, NEEDS_CSUM on an IPv6 fragment", Spec{.version = 6},
       [](VnetHeader& h, auto& p) { single(h), p[6] = 44; }, VnetError::Fragment},
      {"no GSO, NEEDS_CSUM on an IPv6 routing header", Spec{.version = 6, .proto = kUdp},
       [](VnetHeader& h, auto& p) { single(h), p[6] = 43; }, VnetError::BadIpHeader},
      {"no GSO, TCP header cut", Spec{.payload = 0},
       [](VnetHeader& h, auto& p) { single(h), p[32] = 0xf0; }, VnetError::BadL4Header},
      {"no GSO, not IP", Spec{}, [](VnetHeader& h, auto& p) { single(h), p[0] = 0x55; }, VnetError::BadIpHeader},
      {"TCP gso_size 1", Spec{.payload = 1000}, [](VnetHeader& h, auto&) { h.gso_size = 1; },
       VnetError::GsoSizeTooSmall},
      {"TCP gso_size 535", Spec{.payload = 1000}, [](VnetHeader& h, auto&) { h.gso_size = 535; },
       VnetError::GsoSizeTooSmall},
      {"UDP gso_size 7", Spec{.proto = kUdp, .payload = 100}, [](VnetHeader& h, auto&) { h.gso_size = 7; },
       VnetError::GsoSizeTooSmall},
      {"gso_size 0xFFFF", Spec{.payload = 1000}, [](VnetHeader& h, auto&) { h.gso_size = 0xffff; },
       VnetError::GsoSizeReserved},
      {"65 segments", Spec{.payload = 64 * 536 + 1}, [](VnetHeader& h, auto&) { h.gso_size = 536; },
       VnetError::TooManySegments},
      {"65 UDP segments", Spec{.version = 6, .proto = kUdp, .payload = 65 * 8},
       [](VnetHeader& h, auto&) { h.gso_size = 8; }, VnetError::TooManySegments},
      {"UDP GSO without NEEDS_CSUM", Spec{.proto = kUdp, .payload = 2000}, [](VnetHeader& h, auto&) { h.flags = 0; },
       VnetError::UdpGsoWithoutCsum},
  };
  for (const auto& c : cases) {
    auto packet = build(c.spec);
    auto header = gso_header(c.spec, 1000);
    c.mutate(header, packet);
    auto r = header.validate(packet);
    ASSERT_FALSE(r) << c.what;
    EXPECT_EQ(r.error(), c.expected) << c.what << ": got " << to_string(r.error());
    std::vector<uint8_t> storage(2 * packet.size() + 4096);
    std::array<std::span<uint8_t>, 256> out{};
    auto s = segment(header, packet, 1500, storage, out);
    ASSERT_FALSE(s) << c.what;
    EXPECT_EQ(s.error(), c.expected) << c.what;
  }
}

// What a kernel writes: the checksum of TCP/UDP at its field, superpackets
// of MSS-sized segments. All of it must still pass.
TEST(VnetHeader, AcceptsKernelLikeHeaders) {
  struct Good {
    const char* what;
    Spec spec;
    uint16_t gso_size;  // 0: a single packet with NEEDS_CSUM
  };
  const Good cases[] = {
      {"TCPv4 checksum only", Spec{}, 0},
      {"TCPv6 checksum only", Spec{.version = 6}, 0},
      {"UDPv4 checksum only", Spec{.proto = kUdp}, 0},
      {"UDPv6 checksum only", Spec{.version = 6, .proto = kUdp}, 0},
      {"TCP pure ACK checksum only", Spec{.payload = 0, .tcp_options = 12, .tcp_flags = kAck}, 0},
      {"TCPv4 64 segments of 536", Spec{.payload = 64 * 536}, 536},
      {"TCPv6 45 segments of 1440", Spec{.version = 6, .payload = 65000}, 1440},
      {"UDP 64 segments of 8", Spec{.proto = kUdp, .payload = 64 * 8}, 8},
      {"UDP one short segment", Spec{.version = 6, .proto = kUdp, .payload = 3}, 1452},
      {"TCP gso_size 0xFFFE", Spec{.payload = 1000}, 0xfffe},
  };
  for (const auto& c : cases) {
    auto packet = build(c.spec);
    auto h = gso_header(c.spec, c.gso_size);
    if (c.gso_size == 0) h.gso_type = kVnetGsoNone;
    auto r = h.validate(packet);
    ASSERT_TRUE(r) << c.what << ": " << to_string(r.error());
    EXPECT_EQ(r->l3_len, h.csum_start) << c.what;
    EXPECT_EQ(r->header_len(), h.hdr_len) << c.what;
  }
  // Without NEEDS_CSUM and GSO the packet is not looked at.
  EXPECT_TRUE((VnetHeader{.flags = kVnetDataValid}.validate(std::vector<uint8_t>{0xff, 0xff})));
}

TEST(VnetHeader, AcceptsWellFormedHeaders) {
  const Spec specs[] = {{}, {.version = 6}, {.proto = kUdp}, {.version = 6, .proto = kUdp}, {.tcp_options = 12}};
  for (const auto& s : specs) {
    auto packet = build(s);
    auto h = gso_header(s, 1000);
    auto r = h.validate(packet);
    ASSERT_TRUE(r) << to_string(r.error());
    EXPECT_EQ(r->ip_version, s.version);
    EXPECT_EQ(r->l4_protocol, s.proto);
    EXPECT_EQ(r->header_len(), h.hdr_len);
  }
  auto packet = build({});
  VnetHeader ecn = gso_header({}, 1000);
  ecn.gso_type |= kVnetGsoEcn;
  EXPECT_TRUE(ecn.validate(packet));
  // hdr_len is only a hint: the kernel may send the whole linear part.
  VnetHeader hint = gso_header({}, 1000);
  hint.hdr_len = static_cast<uint16_t>(packet.size());
  EXPECT_TRUE(hint.validate(packet));
  // A non-GSO header does not inspect the packet.
  EXPECT_TRUE(VnetHeader{}.validate(std::vector<uint8_t>{0xff, 0xff}));
}

TEST(VnetHeader, EveryErrorHasText) {
  for (int e = 0; e <= static_cast<int>(VnetError::OutputTooSmall); ++e) {
    EXPECT_STRNE(to_string(static_cast<VnetError>(e)), "unknown virtio-net error") << e;
  }
}

}  // namespace
}  // namespace dialout
