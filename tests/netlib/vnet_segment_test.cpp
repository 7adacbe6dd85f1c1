// segment(): superpackets cut in software into valid ordinary packets.
#include "netlib/vnet_header.hpp"

#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "tests/netlib/vnet_test_packets.hpp"

namespace dialout {
namespace {

using namespace vnet_test;

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

// tund's own kernel may hand it a superpacket beyond the peer bounds (a
// small MSS); that one is cut locally, so only its structure is checked.
TEST(VnetSegment, OwnKernelSuperpacketsBeyondThePeerBoundsAreCut) {
  const Spec spec{.payload = 20000};
  auto packet = build(spec);
  for (uint16_t gso_size : {uint16_t{88}, uint16_t{300}}) {
    SCOPED_TRACE(gso_size);
    auto h = gso_header(spec, gso_size);
    ASSERT_FALSE(h.validate(packet)) << "a peer may not send it";
    ASSERT_TRUE(h.validate(packet, VnetOrigin::OwnKernel));
    auto plan = plan_segments(h, packet, 1500, VnetOrigin::OwnKernel);
    ASSERT_TRUE(plan);
    EXPECT_GT(plan->segments, kMaxGsoSegments);
    std::vector<uint8_t> storage(plan->storage_bytes);
    std::vector<std::span<uint8_t>> out(plan->segments);
    auto n = segment(h, packet, 1500, storage, out, VnetOrigin::OwnKernel);
    ASSERT_TRUE(n) << to_string(n.error());
    ASSERT_EQ(*n, (20000u + gso_size - 1) / gso_size);
    std::vector<uint8_t> joined;
    for (size_t i = 0; i < *n; ++i) {
      std::vector<uint8_t> s(out[i].begin(), out[i].end());
      ASSERT_EQ(s.size(), plan->segment_bytes(i));
      EXPECT_TRUE(ipv4_header_ok(s));
      EXPECT_TRUE(l4_checksum_ok(s, 20, kTcp));
      EXPECT_EQ(rd32(&s[24]), static_cast<uint32_t>(kSeq + i * gso_size));
      joined.insert(joined.end(), s.begin() + 40, s.end());
    }
    EXPECT_TRUE(joined == std::vector<uint8_t>(packet.begin() + 40, packet.end()));
  }
  // The structure is still checked for our own kernel's headers.
  auto h = gso_header(spec, 88);
  h.csum_offset = 2;
  auto r = h.validate(packet, VnetOrigin::OwnKernel);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), VnetError::BadCsumOffset);
}


}  // namespace
}  // namespace dialout
