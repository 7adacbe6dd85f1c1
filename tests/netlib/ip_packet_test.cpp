#include "netlib/ip_packet.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace dialout {
namespace {

using Bytes = std::vector<uint8_t>;

void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

// Transport headers: TCP (20 bytes, given flags) or UDP (8 bytes), then payload.
Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, size_t payload = 0) {
  Bytes t(20 + payload, 0);
  put16(t, 0, sport);
  put16(t, 2, dport);
  t[12] = 5 << 4;
  t[13] = flags;
  return t;
}
Bytes udp(uint16_t sport, uint16_t dport, size_t payload = 0) {
  Bytes u(8 + payload, 0);
  put16(u, 0, sport);
  put16(u, 2, dport);
  put16(u, 4, static_cast<uint16_t>(u.size()));
  return u;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// 10.0.0.1 -> 10.0.0.2, IHL 5, correct total length.
Bytes v4(uint8_t proto, const Bytes& l4) {
  Bytes p(20, 0);
  p[0] = 0x45;
  put16(p, 2, static_cast<uint16_t>(20 + l4.size()));
  p[8] = 64;
  p[9] = proto;
  p[12] = 10, p[15] = 1;
  p[16] = 10, p[19] = 2;
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

// The same with IPv4 options (a multiple of 4 bytes) between the fixed header and l4.
Bytes v4_options(const Bytes& options, uint8_t proto, const Bytes& l4) {
  Bytes p = v4(proto, cat(options, l4));
  p[0] = static_cast<uint8_t>(0x40 | (20 + options.size()) / 4);
  return p;
}

// fd00::1 -> fd00::2 with extension headers `ext` (already encoded) before l4.
Bytes v6(uint8_t first_next, const Bytes& ext, const Bytes& l4) {
  Bytes p(40, 0);
  p[0] = 0x60;
  put16(p, 4, static_cast<uint16_t>(ext.size() + l4.size()));
  p[6] = first_next;
  p[7] = 64;
  p[8] = 0xfd, p[23] = 1;
  p[24] = 0xfd, p[39] = 2;
  p.insert(p.end(), ext.begin(), ext.end());
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

Bytes hop_by_hop(uint8_t next) {  // 8 bytes: next, len 0, PadN
  return {next, 0, 1, 4, 0, 0, 0, 0};
}
Bytes routing_hdr(uint8_t next) {  // 8 bytes: type 0, segments left 0, reserved
  return {next, 0, 0, 0, 0, 0, 0, 0};
}
Bytes frag_hdr(uint8_t next, uint16_t offset_units, bool more) {
  Bytes f{next, 0, 0, 0, 0, 0, 0, 1};
  put16(f, 2, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
  return f;
}

constexpr uint8_t kAck = 0x10, kSyn = 0x02, kFin = 0x01, kPsh = 0x08;

struct Case {
  std::string name;
  Bytes packet;
  bool ok;
  PacketError error;
  uint8_t protocol;
  uint16_t sport, dport, header_len;
  uint32_t total_len;
  bool fragment, pure_ack;
};

std::vector<Case> cases() {
  const PacketError none = PacketError::Truncated;  // unused when ok
  auto with = [](Bytes b, const std::function<void(Bytes&)>& f) { f(b); return b; };
  Bytes tcp4 = v4(6, tcp(1234, 80, kAck | kPsh, 10));
  return {
      {"v4 tcp data", tcp4, true, none, 6, 1234, 80, 20, 50, false, false},
      {"v4 tcp pure ack", v4(6, tcp(1234, 80, kAck)), true, none, 6, 1234, 80, 20, 40, false, true},
      {"v4 tcp syn-ack", v4(6, tcp(1, 2, kAck | kSyn)), true, none, 6, 1, 2, 20, 40, false, false},
      {"v4 tcp fin-ack", v4(6, tcp(1, 2, kAck | kFin)), true, none, 6, 1, 2, 20, 40, false, false},
      {"v4 udp", v4(17, udp(53, 5353, 4)), true, none, 17, 53, 5353, 20, 32, false, false},
      {"v4 icmp", v4(1, Bytes(8, 0)), true, none, 1, 0, 0, 20, 28, false, false},
      {"v4 trailing bytes ignored", cat(tcp4, {0, 0}), true, none, 6, 1234, 80, 20, 50, false, false},
      {"v4 with options", with(v4(17, cat(Bytes(4, 1), udp(7, 8))),
                               [](Bytes& b) { b[0] = 0x46; }),
       true, none, 17, 7, 8, 24, 32, false, false},
      {"v4 first fragment", with(tcp4, [](Bytes& b) { b[6] = 0x20; }), true, none, 6, 0, 0, 20, 50, true, false},
      {"v4 later fragment", with(v4(6, Bytes(8, 0xff)), [](Bytes& b) { put16(b, 6, 100); }),
       true, none, 6, 0, 0, 20, 28, true, false},
      {"empty", {}, false, PacketError::Truncated, 0, 0, 0, 0, 0, false, false},
      {"v4 truncated", Bytes(tcp4.begin(), tcp4.begin() + 19), false, PacketError::Truncated, 0, 0, 0, 0, 0, false, false},
      {"bad version", with(tcp4, [](Bytes& b) { b[0] = 0x55; }), false, PacketError::BadVersion, 0, 0, 0, 0, 0, false, false},
      {"ihl < 5", with(tcp4, [](Bytes& b) { b[0] = 0x44; }), false, PacketError::BadHeaderLength, 0, 0, 0, 0, 0, false, false},
      {"ihl beyond buffer", with(v4(1, {}), [](Bytes& b) { b[0] = 0x46; }), false, PacketError::BadHeaderLength, 0, 0, 0, 0, 0, false, false},
      {"total > buffer", with(tcp4, [](Bytes& b) { put16(b, 2, 51); }), false, PacketError::BadTotalLength, 0, 0, 0, 0, 0, false, false},
      {"total < ihl", with(tcp4, [](Bytes& b) { put16(b, 2, 19); }), false, PacketError::BadTotalLength, 0, 0, 0, 0, 0, false, false},
      {"v4 tcp header cut by total", with(tcp4, [](Bytes& b) { put16(b, 2, 30); }), false, PacketError::BadTransportHeader, 0, 0, 0, 0, 0, false, false},
      {"v4 tcp data offset < 5", with(tcp4, [](Bytes& b) { b[32] = 4 << 4; }), false, PacketError::BadTransportHeader, 0, 0, 0, 0, 0, false, false},
      {"v4 tcp data offset too big", with(tcp4, [](Bytes& b) { b[32] = 15 << 4; }), false, PacketError::BadTransportHeader, 0, 0, 0, 0, 0, false, false},
      {"v4 udp length too big", with(v4(17, udp(1, 2)), [](Bytes& b) { put16(b, 24, 9); }), false, PacketError::BadTransportHeader, 0, 0, 0, 0, 0, false, false},
      {"v6 udp", v6(17, {}, udp(5000, 6000, 3)), true, none, 17, 5000, 6000, 40, 51, false, false},
      {"v6 tcp pure ack", v6(6, {}, tcp(9, 10, kAck)), true, none, 6, 9, 10, 40, 60, false, true},
      {"v6 hop-by-hop then tcp", v6(0, hop_by_hop(6), tcp(443, 5555, kAck, 5)), true, none, 6, 443, 5555, 48, 73, false, false},
      {"v6 first fragment", v6(44, frag_hdr(17, 0, true), udp(1, 2, 20)), true, none, 17, 0, 0, 48, 76, true, false},
      {"v6 later fragment", v6(44, frag_hdr(6, 10, false), Bytes(16, 0xee)), true, none, 6, 0, 0, 48, 64, true, false},
      {"v6 no next header", v6(59, {}, {}), true, none, 59, 0, 0, 40, 40, false, false},
      {"v6 truncated", Bytes(39, 0x60), false, PacketError::Truncated, 0, 0, 0, 0, 0, false, false},
      {"v6 payload > buffer", with(v6(17, {}, udp(1, 2)), [](Bytes& b) { put16(b, 4, 9); }), false, PacketError::BadTotalLength, 0, 0, 0, 0, 0, false, false},
      {"v6 ext overruns", v6(0, Bytes{6, 1, 0, 0, 0, 0, 0, 0}, Bytes(4, 0)), false, PacketError::BadExtensionHeader, 0, 0, 0, 0, 0, false, false},
      {"v6 ext truncated", v6(60, Bytes{6, 0, 0}, {}), false, PacketError::BadExtensionHeader, 0, 0, 0, 0, 0, false, false},
      {"v6 hop-by-hop not first", v6(60, cat(hop_by_hop(0), hop_by_hop(6)), tcp(1, 2, kAck)), false, PacketError::BadExtensionHeader, 0, 0, 0, 0, 0, false, false},
      {"v6 eight ext headers",
       v6(60, cat(cat(cat(hop_by_hop(60), hop_by_hop(60)), cat(hop_by_hop(60), hop_by_hop(60))),
                  cat(cat(hop_by_hop(60), hop_by_hop(60)), cat(hop_by_hop(60), hop_by_hop(59)))),
          {}),
       true, none, 59, 0, 0, 104, 104, false, false},
      {"v6 nine ext headers",
       v6(60, cat(cat(cat(hop_by_hop(60), hop_by_hop(60)), cat(hop_by_hop(60), hop_by_hop(60))),
                  cat(cat(cat(hop_by_hop(60), hop_by_hop(60)), cat(hop_by_hop(60), hop_by_hop(60))),
                      hop_by_hop(59))),
          {}),
       false, PacketError::BadExtensionHeader, 0, 0, 0, 0, 0, false, false},
      {"v6 udp cut", v6(17, {}, Bytes(7, 0)), false, PacketError::BadTransportHeader, 0, 0, 0, 0, 0, false, false},
      // Source routing: allow rules judge the destination address, not the hops a route lists.
      {"v4 NOP NOP EOL pad", v4_options({1, 1, 0, 0}, 17, udp(7, 8)), true, none, 17, 7, 8, 24, 32, false, false},
      {"v4 timestamp option", v4_options({0x44, 12, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 17, udp(7, 8)), true, none, 17, 7, 8,
       32, 40, false, false},
      {"v4 record route then NOP", v4_options({0x07, 7, 4, 0, 0, 0, 0, 1}, 6, tcp(1, 2, kAck)), true, none, 6, 1, 2, 28,
       48, false, true},
      {"v4 LSRR after EOL is padding", v4_options({0, 0x83, 7, 4, 10, 2, 0, 9}, 17, udp(7, 8)), true, none, 17, 7, 8,
       28, 36, false, false},
      {"v4 LSRR", v4_options({0x83, 7, 4, 10, 2, 0, 9, 0}, 17, udp(7, 8)), false, PacketError::SourceRoute, 0, 0, 0,
       0, 0, false, false},
      {"v4 SSRR after NOP", v4_options({1, 0x89, 7, 4, 10, 2, 0, 9}, 6, tcp(1, 2, kAck)), false,
       PacketError::SourceRoute, 0, 0, 0, 0, 0, false, false},
      {"v4 LSRR in a later fragment", with(v4_options({0x83, 7, 4, 10, 2, 0, 9, 0}, 6, Bytes(8, 0xff)),
                                          [](Bytes& b) { put16(b, 6, 100); }),
       false, PacketError::SourceRoute, 0, 0, 0, 0, 0, false, false},
      {"v4 option length 1", v4_options({0x07, 1, 0, 0}, 17, udp(7, 8)), false, PacketError::BadIpv4Options, 0, 0, 0,
       0, 0, false, false},
      {"v4 option length past header", v4_options({0x07, 9, 4, 0}, 17, udp(7, 8)), false, PacketError::BadIpv4Options,
       0, 0, 0, 0, 0, false, false},
      {"v4 option without length byte", v4_options({1, 1, 1, 0x44}, 17, udp(7, 8)), false,
       PacketError::BadIpv4Options, 0, 0, 0, 0, 0, false, false},
      {"v6 routing header", v6(43, routing_hdr(17), udp(1, 2)), false, PacketError::RoutingHeader, 0, 0, 0, 0, 0,
       false, false},
      {"v6 routing header after hop-by-hop", v6(0, cat(hop_by_hop(43), routing_hdr(6)), tcp(1, 2, kAck)), false,
       PacketError::RoutingHeader, 0, 0, 0, 0, 0, false, false},
      {"v6 routing header announced by a later fragment", v6(44, frag_hdr(43, 10, false), Bytes(16, 0xee)), false,
       PacketError::RoutingHeader, 0, 0, 0, 0, 0, false, false},
  };
}

TEST(IpPacket, ParseTable) {
  for (const auto& c : cases()) {
    auto r = parse_ip_packet(c.packet);
    ASSERT_EQ(r.has_value(), c.ok) << c.name << (r ? "" : std::string(": ") + to_string(r.error()));
    if (!c.ok) {
      EXPECT_EQ(r.error(), c.error) << c.name << ": got " << to_string(r.error());
      continue;
    }
    EXPECT_EQ(r->protocol, c.protocol) << c.name;
    EXPECT_EQ(r->src_port, c.sport) << c.name;
    EXPECT_EQ(r->dst_port, c.dport) << c.name;
    EXPECT_EQ(r->header_len, c.header_len) << c.name;
    EXPECT_EQ(r->total_len, c.total_len) << c.name;
    EXPECT_EQ(r->fragment, c.fragment) << c.name;
    EXPECT_EQ(r->tcp_pure_ack, c.pure_ack) << c.name;
  }
}

TEST(IpPacket, Addresses) {
  auto r4 = parse_ip_packet(v4(6, tcp(1, 2, kAck)));
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->src.to_string(), "10.0.0.1");
  EXPECT_EQ(r4->dst.to_string(), "10.0.0.2");
  auto r6 = parse_ip_packet(v6(17, {}, udp(1, 2)));
  ASSERT_TRUE(r6);
  EXPECT_EQ(r6->src.to_string(), "fd00::1");
  EXPECT_EQ(r6->dst.to_string(), "fd00::2");
}

TEST(IpPacket, ErrorStrings) {
  for (auto e : {PacketError::Truncated, PacketError::BadVersion, PacketError::BadHeaderLength,
                 PacketError::BadTotalLength, PacketError::BadExtensionHeader,
                 PacketError::BadTransportHeader, PacketError::BadIpv4Options, PacketError::SourceRoute,
                 PacketError::RoutingHeader}) {
    EXPECT_NE(std::string(to_string(e)), "unknown packet error");
  }
}

TEST(IpPacket, FlowHashStableAndSensitive) {
  auto a = *parse_ip_packet(v4(6, tcp(1234, 80, kAck)));
  auto same_flow = *parse_ip_packet(v4(6, tcp(1234, 80, kAck | kPsh, 100)));
  auto other_port = *parse_ip_packet(v4(6, tcp(1235, 80, kAck)));
  auto other_proto = *parse_ip_packet(v4(17, udp(1234, 80)));
  EXPECT_EQ(flow_hash(a), flow_hash(same_flow));
  EXPECT_NE(flow_hash(a), flow_hash(other_port));
  EXPECT_NE(flow_hash(a), flow_hash(other_proto));
  // Pinned value: the hash must not change between builds, hosts or processes.
  EXPECT_EQ(flow_hash(a), 304906031u);
  auto v6a = *parse_ip_packet(v6(6, {}, tcp(1234, 80, kAck)));
  EXPECT_NE(flow_hash(a), flow_hash(v6a));
}

}  // namespace
}  // namespace dialout
