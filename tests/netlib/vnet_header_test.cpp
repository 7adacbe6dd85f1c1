#include "netlib/vnet_header.hpp"

#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

namespace dialout {
namespace {

constexpr uint8_t kTcp = 6, kUdp = 17;
constexpr uint8_t kFin = 0x01, kPsh = 0x08, kAck = 0x10, kCwr = 0x80;
constexpr uint32_t kSeq = 0xfffff000;  // wraps during the test on purpose

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t rd32(const uint8_t* p) { return uint32_t{rd16(p)} << 16 | rd16(p + 2); }
void wr16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// Independent checksum verifier: the one's-complement sum over the covered
// bytes, including the stored checksum, must be 0xffff.
uint32_t ones_sum(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i < n; ++i) acc += (i % 2 == 0) ? uint32_t{p[i]} << 8 : p[i];
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}
bool ipv4_header_ok(const std::vector<uint8_t>& p) { return ones_sum(p.data(), (p[0] & 0xf) * 4u) == 0xffff; }
bool l4_checksum_ok(const std::vector<uint8_t>& p, size_t l3_len, uint8_t proto) {
  const size_t l4_len = p.size() - l3_len;
  uint32_t acc = (p[0] >> 4) == 4 ? ones_sum(&p[12], 8) : ones_sum(&p[8], 32);
  acc += proto + static_cast<uint32_t>(l4_len);
  return ones_sum(&p[l3_len], l4_len, acc) == 0xffff;
}

struct Spec {
  uint8_t version = 4;
  uint8_t proto = kTcp;
  size_t payload = 100;
  size_t tcp_options = 0;  // bytes, multiple of 4
  uint8_t tcp_flags = kAck | kPsh;
};

uint8_t payload_byte(size_t i) { return static_cast<uint8_t>(i * 7 + 3); }

std::vector<uint8_t> build(const Spec& s) {
  const size_t l3 = s.version == 4 ? 20 : 40;
  const size_t l4 = s.proto == kTcp ? 20 + s.tcp_options : 8;
  std::vector<uint8_t> p(l3 + l4 + s.payload);
  if (s.version == 4) {
    p[0] = 0x45;
    wr16(&p[2], p.size());
    wr16(&p[4], 0x1234);
    wr16(&p[6], 0x4000);  // DF
    p[8] = 64;
    p[9] = s.proto;
    const uint8_t addrs[] = {10, 1, 0, 1, 10, 2, 0, 2};
    std::memcpy(&p[12], addrs, 8);
    wr16(&p[10], static_cast<uint16_t>(~ones_sum(p.data(), 20)));
  } else {
    p[0] = 0x60;
    wr16(&p[4], p.size() - 40);
    p[6] = s.proto;
    p[7] = 64;
    p[8] = 0xfd, p[9] = 0x00, p[10] = 0x00, p[11] = 0x01, p[23] = 1;
    p[24] = 0xfd, p[25] = 0x00, p[26] = 0x00, p[27] = 0x02, p[39] = 2;
  }
  uint8_t* t = &p[l3];
  wr16(t, 40000);
  wr16(t + 2, 5201);
  if (s.proto == kTcp) {
    wr16(t + 4, kSeq >> 16);
    wr16(t + 6, kSeq & 0xffff);
    wr16(t + 8, 0);
    wr16(t + 10, 1);
    t[12] = static_cast<uint8_t>((20 + s.tcp_options) / 4 << 4);
    t[13] = s.tcp_flags;
    wr16(t + 14, 512);
    std::memset(t + 20, 1, s.tcp_options);  // NOPs
  } else {
    wr16(t + 4, l4 + s.payload);
  }
  for (size_t i = 0; i < s.payload; ++i) p[l3 + l4 + i] = payload_byte(i);
  return p;
}

// The header the kernel would put in front: partial checksum requested.
VnetHeader gso_header(const Spec& s, uint16_t gso_size) {
  VnetHeader h;
  h.flags = kVnetNeedsCsum;
  h.gso_type = s.proto == kUdp ? kVnetGsoUdpL4 : (s.version == 4 ? kVnetGsoTcpV4 : kVnetGsoTcpV6);
  h.gso_size = gso_size;
  h.csum_start = s.version == 4 ? 20 : 40;
  h.csum_offset = s.proto == kTcp ? 16 : 6;
  h.hdr_len = static_cast<uint16_t>(h.csum_start + (s.proto == kTcp ? 20 + s.tcp_options : 8));
  return h;
}

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
      {"csum_start not at L4", tcp6, [](VnetHeader& h, auto&) { h.csum_start = 20; }, VnetError::BadCsumOffset},
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

std::vector<std::vector<uint8_t>> run_segment(const VnetHeader& h, const std::vector<uint8_t>& packet, size_t mtu) {
  std::vector<uint8_t> storage(packet.size() * 2);
  std::array<std::span<uint8_t>, 64> out{};
  auto n = segment(h, packet, mtu, storage, out);
  EXPECT_TRUE(n) << to_string(n.error());
  std::vector<std::vector<uint8_t>> segs;
  for (size_t i = 0; n && i < *n; ++i) segs.emplace_back(out[i].begin(), out[i].end());
  return segs;
}

struct SegCase {
  Spec spec;
  uint16_t gso_size;
  size_t mtu;
  size_t expected_segments;
  size_t expected_payload;  // per full segment
};

TEST(VnetSegment, SuperpacketsBecomeValidSegments) {
  const SegCase cases[] = {
      {{.payload = 20000, .tcp_flags = kAck | kPsh | kFin | kCwr}, 1448, 1500, 14, 1448},
      {{.version = 6, .payload = 20000, .tcp_options = 12, .tcp_flags = kAck | kPsh | kCwr}, 1428, 1500, 15, 1428},
      {{.payload = 20000, .tcp_options = 12}, 1448, 1280, 17, 1280 - 52},  // MTU below gso_size wins
      {{.proto = kUdp, .payload = 20000}, 1400, 1500, 15, 1400},
      {{.version = 6, .proto = kUdp, .payload = 20000}, 1452, 1500, 14, 1452},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << "v" << int{c.spec.version} << " proto " << int{c.spec.proto});
    auto packet = build(c.spec);
    auto h = gso_header(c.spec, c.gso_size);
    const size_t l3 = c.spec.version == 4 ? 20 : 40, hl = h.hdr_len;
    auto segs = run_segment(h, packet, c.mtu);
    ASSERT_EQ(segs.size(), c.expected_segments);

    std::vector<uint8_t> joined;
    for (size_t i = 0; i < segs.size(); ++i) {
      const auto& s = segs[i];
      SCOPED_TRACE(i);
      const bool last = i + 1 == segs.size();
      EXPECT_LE(s.size(), c.mtu);
      if (!last) {
        EXPECT_EQ(s.size() - hl, c.expected_payload);
      }
      if (c.spec.version == 4) {
        EXPECT_EQ(rd16(&s[2]), s.size());
        EXPECT_EQ(rd16(&s[4]), 0x1234 + i);
        EXPECT_TRUE(ipv4_header_ok(s));
      } else {
        EXPECT_EQ(rd16(&s[4]), s.size() - 40);
      }
      if (c.spec.proto == kTcp) {
        EXPECT_EQ(rd32(&s[l3 + 4]), static_cast<uint32_t>(kSeq + i * c.expected_payload));
        const uint8_t flags = s[l3 + 13];
        EXPECT_EQ(flags & kAck, kAck);
        EXPECT_EQ(flags & kFin, last ? (c.spec.tcp_flags & kFin) : 0);
        EXPECT_EQ(flags & kPsh, last ? (c.spec.tcp_flags & kPsh) : 0);
        EXPECT_EQ(flags & kCwr, i == 0 ? (c.spec.tcp_flags & kCwr) : 0);
      } else {
        EXPECT_EQ(rd16(&s[l3 + 4]), s.size() - l3);
      }
      EXPECT_TRUE(l4_checksum_ok(s, l3, c.spec.proto));
      joined.insert(joined.end(), s.begin() + static_cast<long>(hl), s.end());
    }
    EXPECT_TRUE(joined == std::vector<uint8_t>(packet.begin() + static_cast<long>(hl), packet.end()));
  }
}

TEST(VnetSegment, PlanMatchesOutputAndBoundsAreChecked) {
  const Spec spec{.payload = 20000};
  auto packet = build(spec);
  auto h = gso_header(spec, 1448);
  auto plan = plan_segments(h, packet, 1500);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->segments, 14u);
  EXPECT_EQ(plan->storage_bytes, 20000u + 14 * 40);

  std::vector<uint8_t> storage(plan->storage_bytes);
  std::vector<std::span<uint8_t>> out(plan->segments);
  auto ok = segment(h, packet, 1500, storage, out);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 14u);

  std::vector<uint8_t> small_storage(plan->storage_bytes - 1);
  auto r1 = segment(h, packet, 1500, small_storage, out);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error(), VnetError::OutputTooSmall);
  auto r2 = segment(h, packet, 1500, storage, std::span(out).first(13));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), VnetError::OutputTooSmall);
  auto r3 = segment(h, packet, 40, storage, out);
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error(), VnetError::BadMtu);
}

TEST(VnetSegment, CompletesPartialChecksums) {
  for (const Spec& spec : {Spec{.payload = 301}, Spec{.version = 6, .proto = kUdp, .payload = 77}}) {
    auto packet = build(spec);
    const size_t l3 = spec.version == 4 ? 20 : 40;
    VnetHeader h = gso_header(spec, 0);
    h.gso_type = kVnetGsoNone;
    // What the kernel leaves in the field: the folded pseudo-header sum.
    uint32_t pseudo = (spec.version == 4 ? ones_sum(&packet[12], 8) : ones_sum(&packet[8], 32)) + spec.proto +
                      static_cast<uint32_t>(packet.size() - l3);
    wr16(&packet[l3 + h.csum_offset], ones_sum(nullptr, 0, pseudo));
    ASSERT_FALSE(l4_checksum_ok(packet, l3, spec.proto));

    auto copy = packet;
    ASSERT_TRUE(complete_checksum(h, copy));
    EXPECT_TRUE(l4_checksum_ok(copy, l3, spec.proto));

    auto segs = run_segment(h, packet, 1500);  // non-GSO: one copy, completed
    ASSERT_EQ(segs.size(), 1u);
    EXPECT_EQ(segs[0], copy);
  }
  std::vector<uint8_t> tiny(4);
  VnetHeader bad{.flags = kVnetNeedsCsum, .csum_start = 2, .csum_offset = 1};
  auto r = complete_checksum(bad, tiny);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), VnetError::CsumOutOfRange);
  EXPECT_TRUE(complete_checksum(VnetHeader{}, tiny));  // nothing asked, nothing done
}

TEST(VnetHeader, EveryErrorHasText) {
  for (int e = 0; e <= static_cast<int>(VnetError::OutputTooSmall); ++e) {
    EXPECT_STRNE(to_string(static_cast<VnetError>(e)), "unknown virtio-net error") << e;
  }
}

}  // namespace
}  // namespace dialout
