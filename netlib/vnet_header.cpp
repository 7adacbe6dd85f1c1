#include "netlib/vnet_header.hpp"

#include <algorithm>
#include <cstring>

namespace dialout {
namespace {

constexpr uint8_t kKnownFlags = kVnetNeedsCsum | kVnetDataValid;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr size_t kTcpCsumOffset = 16;
constexpr size_t kUdpCsumOffset = 6;
// IPv6 extension headers are walked in a bounded way; real superpackets
// rarely carry any.
constexpr int kMaxExtensionHeaders = 8;

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
void put_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void put_be32(uint8_t* p, uint32_t v) {
  put_be16(p, static_cast<uint16_t>(v >> 16));
  put_be16(p + 2, static_cast<uint16_t>(v));
}

// RFC 1071 one's-complement sum, folded at the end.
uint64_t sum16(std::span<const uint8_t> data, uint64_t acc) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) acc += be16(&data[i]);
  if (i < data.size()) acc += uint64_t{data[i]} << 8;
  return acc;
}
uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}
// The final checksum field value. Zero is sent as 0xffff (equal in one's
// complement) because zero means "no checksum" for UDP over IPv4.
uint16_t finish(uint64_t acc) {
  uint16_t c = static_cast<uint16_t>(~fold(acc));
  return c == 0 ? 0xffff : c;
}

uint64_t pseudo_header_sum(std::span<const uint8_t> ip, uint8_t version, uint8_t proto, size_t l4_len) {
  uint64_t acc = version == 4 ? sum16(ip.subspan(12, 8), 0) : sum16(ip.subspan(8, 32), 0);
  return acc + proto + l4_len;
}

Expected<VnetLayout, VnetError> parse_ipv4(std::span<const uint8_t> p) {
  if (p.size() < 20) return unexpected(VnetError::BadIpHeader);
  size_t ihl = size_t{p[0] & 0x0fu} * 4;
  if (ihl < 20 || ihl > p.size() || be16(&p[2]) != p.size()) return unexpected(VnetError::BadIpHeader);
  if ((be16(&p[6]) & 0x3fff) != 0) return unexpected(VnetError::Fragment);  // MF or an offset
  return VnetLayout{.ip_version = 4, .l4_protocol = p[9], .l3_len = static_cast<uint16_t>(ihl)};
}

Expected<VnetLayout, VnetError> parse_ipv6(std::span<const uint8_t> p) {
  if (p.size() < 40 || size_t{be16(&p[4])} + 40 != p.size()) return unexpected(VnetError::BadIpHeader);
  uint8_t next = p[6];
  size_t off = 40;
  for (int i = 0; i < kMaxExtensionHeaders; ++i) {
    if (next == 44) return unexpected(VnetError::Fragment);
    // Hop-by-hop and destination options do not change the pseudo-header;
    // a routing header would (its final address), so it is refused.
    if (next != 0 && next != 60) {
      if (next == 43) return unexpected(VnetError::BadIpHeader);
      return VnetLayout{.ip_version = 6, .l4_protocol = next, .l3_len = static_cast<uint16_t>(off)};
    }
    if (off + 8 > p.size()) return unexpected(VnetError::BadIpHeader);
    size_t len = (size_t{p[off + 1]} + 1) * 8;
    next = p[off];
    off += len;
    if (off > p.size()) return unexpected(VnetError::BadIpHeader);
  }
  return unexpected(VnetError::BadIpHeader);
}

Expected<VnetLayout, VnetError> parse_ip(std::span<const uint8_t> p) {
  const uint8_t version = p.empty() ? 0 : p[0] >> 4;
  if (version == 4) return parse_ipv4(p);
  if (version == 6) return parse_ipv6(p);
  return unexpected(VnetError::BadIpHeader);
}

// Completes layout with the TCP/UDP header length; the header must fit.
Expected<void, VnetError> parse_l4(std::span<const uint8_t> p, VnetLayout& layout) {
  const size_t off = layout.l3_len;
  if (layout.l4_protocol == kProtoTcp) {
    if (off + 20 > p.size()) return unexpected(VnetError::BadL4Header);
    size_t doff = size_t{p[off + 12]} / 16 * 4;
    if (doff < 20 || off + doff > p.size()) return unexpected(VnetError::BadL4Header);
    layout.l4_len = static_cast<uint16_t>(doff);
  } else {
    if (off + 8 > p.size()) return unexpected(VnetError::BadL4Header);
    layout.l4_len = 8;
  }
  return {};
}

// Finds where the headers of a GSO superpacket really end.
Expected<VnetLayout, VnetError> parse_gso_packet(uint8_t base_type, std::span<const uint8_t> p) {
  uint8_t version = p.empty() ? 0 : p[0] >> 4;
  if (base_type == kVnetGsoTcpV4 && version != 4) return unexpected(VnetError::NotIpv4);
  if (base_type == kVnetGsoTcpV6 && version != 6) return unexpected(VnetError::NotIpv6);
  auto layout = parse_ip(p);
  if (!layout) return layout;
  const uint8_t want = base_type == kVnetGsoUdpL4 ? kProtoUdp : kProtoTcp;
  if (layout->l4_protocol != want) return unexpected(VnetError::ProtocolMismatch);
  if (auto ok = parse_l4(p, *layout); !ok) return unexpected(ok.error());
  if (layout->header_len() >= p.size()) return unexpected(VnetError::EmptyPayload);
  return layout;
}

// A single packet whose checksum is to be completed: only TCP and UDP have a
// field the header may name.
Expected<VnetLayout, VnetError> parse_csum_packet(std::span<const uint8_t> p) {
  auto layout = parse_ip(p);
  if (!layout) return layout;
  if (layout->l4_protocol != kProtoTcp && layout->l4_protocol != kProtoUdp)
    return unexpected(VnetError::CsumUnsupportedL4);
  if (auto ok = parse_l4(p, *layout); !ok) return unexpected(ok.error());
  return layout;
}

// The receiver's bounds on a superpacket whose structure is valid.
Expected<void, VnetError> check_gso_bounds(uint16_t gso_size, const VnetLayout& layout, size_t packet_size) {
  if (gso_size == kGsoSizeReserved) return unexpected(VnetError::GsoSizeReserved);
  const uint16_t min = layout.l4_protocol == kProtoTcp ? kMinTcpGsoSize : kMinUdpGsoSize;
  if (gso_size < min) return unexpected(VnetError::GsoSizeTooSmall);
  const size_t payload = packet_size - layout.header_len();
  if ((payload + gso_size - 1) / gso_size > kMaxGsoSegments) return unexpected(VnetError::TooManySegments);
  return {};
}

// Rewrites the copied headers at the front of one segment.
void fix_segment(std::span<uint8_t> seg, const VnetLayout& layout, size_t index, size_t count, size_t seq_advance) {
  const size_t l4 = layout.l3_len;
  const size_t l4_total = seg.size() - l4;
  if (layout.ip_version == 4) {
    put_be16(&seg[2], static_cast<uint16_t>(seg.size()));
    // Consecutive IDs, as the kernel's own segmentation produces.
    put_be16(&seg[4], static_cast<uint16_t>(be16(&seg[4]) + index));
    put_be16(&seg[10], 0);
    put_be16(&seg[10], static_cast<uint16_t>(~fold(sum16(seg.first(layout.l3_len), 0))));
  } else {
    put_be16(&seg[4], static_cast<uint16_t>(seg.size() - 40));
  }
  size_t csum_at;
  if (layout.l4_protocol == kProtoTcp) {
    put_be32(&seg[l4 + 4], static_cast<uint32_t>(be32(&seg[l4 + 4]) + seq_advance));
    uint8_t& tcp_flags = seg[l4 + 13];
    if (index + 1 != count) tcp_flags &= static_cast<uint8_t>(~0x09);  // FIN, PSH: last segment only
    if (index != 0) tcp_flags &= static_cast<uint8_t>(~0x80);          // CWR: first segment only
    csum_at = l4 + kTcpCsumOffset;
  } else {
    put_be16(&seg[l4 + 4], static_cast<uint16_t>(l4_total));
    csum_at = l4 + kUdpCsumOffset;
  }
  put_be16(&seg[csum_at], 0);
  uint64_t acc = pseudo_header_sum(seg, layout.ip_version, layout.l4_protocol, l4_total);
  put_be16(&seg[csum_at], finish(sum16(seg.subspan(l4), acc)));
}

}  // namespace

const char* to_string(VnetError e) {
  switch (e) {
    case VnetError::Truncated: return "virtio-net header truncated";
    case VnetError::UnknownFlags: return "unknown virtio-net header flags";
    case VnetError::BadGsoType: return "unsupported GSO type";
    case VnetError::ZeroGsoSize: return "GSO with zero gso_size";
    case VnetError::HdrLenTooLong: return "hdr_len beyond the packet";
    case VnetError::CsumOutOfRange: return "checksum position beyond the packet";
    case VnetError::CsumStartNotL4: return "checksum start is not the TCP/UDP header";
    case VnetError::BadCsumOffset: return "checksum offset is not the TCP/UDP checksum field";
    case VnetError::CsumUnsupportedL4: return "checksum offload on a packet that is neither TCP nor UDP";
    case VnetError::NotIpv4: return "TCPv4 GSO on a non-IPv4 packet";
    case VnetError::NotIpv6: return "TCPv6 GSO on a non-IPv6 packet";
    case VnetError::BadIpHeader: return "IP header inconsistent with the packet";
    case VnetError::Fragment: return "offload header on an IP fragment";
    case VnetError::ProtocolMismatch: return "L4 protocol does not match the GSO type";
    case VnetError::BadL4Header: return "L4 header does not fit in the packet";
    case VnetError::EmptyPayload: return "GSO packet without payload";
    case VnetError::GsoSizeTooSmall: return "gso_size below the minimum segment size";
    case VnetError::GsoSizeReserved: return "gso_size 0xFFFF is reserved";
    case VnetError::TooManySegments: return "superpacket of more than 64 segments";
    case VnetError::UdpGsoWithoutCsum: return "UDP segmentation without NEEDS_CSUM";
    case VnetError::BadMtu: return "MTU leaves no room for payload";
    case VnetError::OutputTooSmall: return "segmentation output buffer too small";
  }
  return "unknown virtio-net error";
}

Expected<VnetHeader, VnetError> VnetHeader::decode(std::span<const uint8_t> b) {
  if (b.size() < kVnetHeaderSize) return unexpected(VnetError::Truncated);
  return VnetHeader{.flags = b[0],
                    .gso_type = b[1],
                    .hdr_len = le16(&b[2]),
                    .gso_size = le16(&b[4]),
                    .csum_start = le16(&b[6]),
                    .csum_offset = le16(&b[8])};
}

void VnetHeader::encode(std::span<uint8_t, kVnetHeaderSize> out) const {
  out[0] = flags;
  out[1] = gso_type;
  put_le16(&out[2], hdr_len);
  put_le16(&out[4], gso_size);
  put_le16(&out[6], csum_start);
  put_le16(&out[8], csum_offset);
}

Expected<VnetLayout, VnetError> VnetHeader::validate(std::span<const uint8_t> packet, VnetOrigin origin) const {
  if (flags & ~kKnownFlags) return unexpected(VnetError::UnknownFlags);
  const uint8_t base = gso_type & ~kVnetGsoEcn;
  if (base != kVnetGsoNone && base != kVnetGsoTcpV4 && base != kVnetGsoTcpV6 && base != kVnetGsoUdpL4) {
    return unexpected(VnetError::BadGsoType);
  }
  if ((gso_type & kVnetGsoEcn) && base != kVnetGsoTcpV4 && base != kVnetGsoTcpV6) {
    return unexpected(VnetError::BadGsoType);
  }
  if (hdr_len > packet.size()) return unexpected(VnetError::HdrLenTooLong);
  const bool needs_csum = flags & kVnetNeedsCsum;
  if (needs_csum && size_t{csum_start} + csum_offset + 2 > packet.size()) {
    return unexpected(VnetError::CsumOutOfRange);
  }
  if (base == kVnetGsoNone && !needs_csum) return VnetLayout{};
  if (base != kVnetGsoNone) {
    if (gso_size == 0) return unexpected(VnetError::ZeroGsoSize);
    if (base == kVnetGsoUdpL4 && !needs_csum) return unexpected(VnetError::UdpGsoWithoutCsum);
  }

  auto layout = base == kVnetGsoNone ? parse_csum_packet(packet) : parse_gso_packet(base, packet);
  if (!layout) return layout;
  if (needs_csum) {
    if (csum_start != layout->l3_len) return unexpected(VnetError::CsumStartNotL4);
    const size_t want = layout->l4_protocol == kProtoTcp ? kTcpCsumOffset : kUdpCsumOffset;
    if (csum_offset != want) return unexpected(VnetError::BadCsumOffset);
  }
  if (base != kVnetGsoNone && origin == VnetOrigin::Peer) {
    if (auto ok = check_gso_bounds(gso_size, *layout, packet.size()); !ok) return unexpected(ok.error());
  }
  return layout;
}

Expected<void, VnetError> complete_checksum(const VnetHeader& header, std::span<uint8_t> packet) {
  if (!(header.flags & kVnetNeedsCsum)) return {};
  const size_t at = size_t{header.csum_start} + header.csum_offset;
  if (at + 2 > packet.size()) return unexpected(VnetError::CsumOutOfRange);
  // The field already holds the pseudo-header sum, so summing from
  // csum_start over it yields the full checksum.
  put_be16(&packet[at], finish(sum16(packet.subspan(header.csum_start), 0)));
  return {};
}

size_t SegmentPlan::segment_bytes(size_t index) const {
  if (payload_per_segment == 0) return payload_bytes;
  return layout.header_len() + std::min(payload_per_segment, payload_bytes - index * payload_per_segment);
}

Expected<SegmentPlan, VnetError> plan_segments(const VnetHeader& header, std::span<const uint8_t> packet, size_t mtu,
                                               VnetOrigin origin) {
  auto layout = header.validate(packet, origin);
  if (!layout) return unexpected(layout.error());
  SegmentPlan plan{.layout = *layout};
  if (!header.gso()) {
    plan.segments = 1;
    plan.payload_bytes = plan.storage_bytes = packet.size();
    return plan;
  }
  const size_t hl = layout->header_len();
  if (mtu <= hl) return unexpected(VnetError::BadMtu);
  plan.payload_bytes = packet.size() - hl;
  plan.payload_per_segment = std::min<size_t>(header.gso_size, mtu - hl);
  plan.segments = (plan.payload_bytes + plan.payload_per_segment - 1) / plan.payload_per_segment;
  plan.storage_bytes = plan.payload_bytes + plan.segments * hl;
  return plan;
}

std::span<uint8_t> write_segment(const VnetHeader& header, const SegmentPlan& plan, std::span<const uint8_t> packet,
                                 size_t index, std::span<uint8_t> out) {
  auto seg = out.first(plan.segment_bytes(index));
  if (!header.gso()) {
    std::copy(packet.begin(), packet.end(), seg.begin());
    // Cannot fail: the plan's validation checked the checksum position.
    (void)complete_checksum(header, seg);
    return seg;
  }
  const size_t hl = plan.layout.header_len();
  const size_t from = index * plan.payload_per_segment;
  std::copy(packet.begin(), packet.begin() + static_cast<std::ptrdiff_t>(hl), seg.begin());
  std::memcpy(&seg[hl], &packet[hl + from], seg.size() - hl);
  fix_segment(seg, plan.layout, index, plan.segments, from);
  return seg;
}

Expected<size_t, VnetError> segment(const VnetHeader& header, std::span<const uint8_t> packet, size_t mtu,
                                    std::span<uint8_t> storage, std::span<std::span<uint8_t>> out_packets,
                                    VnetOrigin origin) {
  auto plan = plan_segments(header, packet, mtu, origin);
  if (!plan) return unexpected(plan.error());
  if (plan->segments > out_packets.size() || plan->storage_bytes > storage.size()) {
    return unexpected(VnetError::OutputTooSmall);
  }
  size_t pos = 0;
  for (size_t i = 0; i < plan->segments; ++i) {
    out_packets[i] = write_segment(header, *plan, packet, i, storage.subspan(pos));
    pos += out_packets[i].size();
  }
  return plan->segments;
}

}  // namespace dialout
