// The virtio-net header the kernel puts in front of every packet on a TUN
// opened with IFF_VNET_HDR (struct virtio_net_hdr, 10 bytes, little endian,
// no num_buffers). It tells whether the packet is a TCP/UDP "superpacket" to
// be cut into MSS-sized segments (GSO) and whether its L4 checksum is still
// to be completed (NEEDS_CSUM).
//
// Frames carry the header unchanged between sites so superpackets stay whole
// end to end; this file validates it strictly against the packet it precedes
// (a peer's header is untrusted input) and, for a receiver whose TUN lacks
// offloads, does the kernel's work in software: segmentation and checksums.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>

#include "netlib/expected.hpp"

namespace dialout {

inline constexpr size_t kVnetHeaderSize = 10;

// flags
inline constexpr uint8_t kVnetNeedsCsum = 1;  // csum_start/csum_offset say where
inline constexpr uint8_t kVnetDataValid = 2;  // checksum already verified
// gso_type
inline constexpr uint8_t kVnetGsoNone = 0;
inline constexpr uint8_t kVnetGsoTcpV4 = 1;
inline constexpr uint8_t kVnetGsoTcpV6 = 4;
inline constexpr uint8_t kVnetGsoUdpL4 = 5;  // UDP segmentation (USO), IPv4 or IPv6
inline constexpr uint8_t kVnetGsoEcn = 0x80;  // modifier: the TCP stream uses ECN

// Bounds on a peer's superpacket, so one frame cannot make the receiving
// kernel (or tund's software segmentation) cut tens of thousands of
// packets. TCP: the IPv4 default MSS; UDP: one UDP header's worth. A
// router's own kernel is told to stay within kMaxGsoSegments (the TUN's
// gso_max_segs); what it still sends beyond is cut by tund before sending.
inline constexpr uint16_t kMinTcpGsoSize = 536;
inline constexpr uint16_t kMinUdpGsoSize = 8;
inline constexpr uint16_t kGsoSizeReserved = 0xFFFF;
inline constexpr size_t kMaxGsoSegments = 64;

enum class VnetError : uint8_t {
  Truncated,          // fewer than 10 header bytes
  UnknownFlags,       // flag bits other than NEEDS_CSUM / DATA_VALID
  BadGsoType,         // not NONE/TCPV4/TCPV6/UDP_L4, or ECN without TCP (UFO = 3 is refused)
  ZeroGsoSize,        // GSO with gso_size 0
  HdrLenTooLong,      // hdr_len beyond the packet
  CsumOutOfRange,     // csum_start + csum_offset + 2 beyond the packet
  CsumStartNotL4,     // NEEDS_CSUM with csum_start not at the TCP/UDP header
  BadCsumOffset,      // NEEDS_CSUM with csum_offset not the TCP (16) / UDP (6) checksum field
  CsumUnsupportedL4,  // NEEDS_CSUM on a packet that is neither TCP nor UDP
  NotIpv4,            // TCPV4 on a packet that is not IPv4
  NotIpv6,            // TCPV6 on a packet that is not IPv6
  BadIpHeader,        // IP header or total length inconsistent with the packet, or an IPv6 routing header
  Fragment,           // GSO or NEEDS_CSUM on an IP fragment
  ProtocolMismatch,   // L4 protocol does not match gso_type
  BadL4Header,        // TCP/UDP header does not fit in the packet
  EmptyPayload,       // GSO with nothing after the headers
  GsoSizeTooSmall,    // gso_size below kMinTcpGsoSize / kMinUdpGsoSize
  GsoSizeReserved,    // gso_size 0xFFFF (the kernel's GSO_BY_FRAGS marker)
  TooManySegments,    // more than kMaxGsoSegments segments of gso_size
  UdpGsoWithoutCsum,  // UDP segmentation without NEEDS_CSUM (the kernel refuses it too)
  BadMtu,             // mtu leaves no room for payload after the headers
  OutputTooSmall,     // segment(): storage or out_packets too small
};
const char* to_string(VnetError);

// What validate() learnt from the packet itself about a GSO or NEEDS_CSUM
// packet (the header's hdr_len is only a hint). All zero for a packet with
// neither, which validate() does not inspect.
struct VnetLayout {
  uint8_t ip_version = 0;   // 4 or 6
  uint8_t l4_protocol = 0;  // 6 (TCP) or 17 (UDP)
  uint16_t l3_len = 0;      // IP header including IPv6 extension headers
  uint16_t l4_len = 0;      // TCP header including options, or 8 for UDP
  size_t header_len() const { return size_t{l3_len} + l4_len; }
};

// Whose header is checked. A peer's frame is untrusted: every bound
// applies. A header our own kernel wrote may exceed the superpacket bounds
// (gso_size, segment count) legitimately, e.g. after a peer announced a small
// MSS; tund cuts such a superpacket itself instead of sending it on.
enum class VnetOrigin : uint8_t { Peer, OwnKernel };

struct VnetHeader {
  uint8_t flags = 0;
  uint8_t gso_type = kVnetGsoNone;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;

  // Reads the first 10 bytes (the packet follows them); no checks beyond length.
  static Expected<VnetHeader, VnetError> decode(std::span<const uint8_t> bytes);
  void encode(std::span<uint8_t, kVnetHeaderSize> out) const;

  bool gso() const { return (gso_type & ~kVnetGsoEcn) != kVnetGsoNone; }
  // Checks this header against the packet that follows it (without the
  // header). Whenever NEEDS_CSUM is set, the packet must be an unfragmented
  // TCP or UDP datagram and csum_start/csum_offset must name exactly its L4
  // checksum field: whoever completes the checksum (tund or the kernel)
  // writes there, after policy has looked at the packet, so any other
  // position would let a peer rewrite addresses or ports.
  Expected<VnetLayout, VnetError> validate(std::span<const uint8_t> packet,
                                           VnetOrigin origin = VnetOrigin::Peer) const;

  auto operator<=>(const VnetHeader&) const = default;
};

// Fills in the L4 checksum of a NEEDS_CSUM packet (the field holds the
// pseudo-header sum, as the kernel leaves it). No-op without NEEDS_CSUM.
Expected<void, VnetError> complete_checksum(const VnetHeader& header, std::span<uint8_t> packet);

// How segment() will cut a packet: validates, then gives exact sizes so the
// caller can size its buffers (or reuse bounded ones) before segmenting.
struct SegmentPlan {
  VnetLayout layout;
  size_t segments = 0;
  size_t payload_per_segment = 0;  // 0 for a non-GSO packet (copied whole)
  size_t payload_bytes = 0;        // after the headers (GSO); the whole packet otherwise
  size_t storage_bytes = 0;
  // Size of the index-th packet segment() produces.
  size_t segment_bytes(size_t index) const;
};
Expected<SegmentPlan, VnetError> plan_segments(const VnetHeader& header, std::span<const uint8_t> packet, size_t mtu,
                                               VnetOrigin origin = VnetOrigin::Peer);

// Writes the index-th packet of a plan made for (header, packet) into the
// front of out (at least plan.segment_bytes(index) bytes) and returns it: one
// step of segment(), for a caller that places each packet itself, e.g.
// straight into a send queue.
std::span<uint8_t> write_segment(const VnetHeader& header, const SegmentPlan& plan, std::span<const uint8_t> packet,
                                 size_t index, std::span<uint8_t> out);

// Turns a packet as described by header into ordinary packets of at most
// mtu bytes (payload at most gso_size each), with IP length/ID/header
// checksum, TCP sequence numbers and flags (FIN/PSH only on the last, CWR
// only on the first), and full L4 checksums fixed. A non-GSO packet is
// copied as is, its checksum completed when NEEDS_CSUM. The packets are laid
// out back to back in storage and out_packets[i] views the i-th; returns how
// many. Allocation-free. Each result needs a zero VnetHeader on a vnet TUN.
Expected<size_t, VnetError> segment(const VnetHeader& header, std::span<const uint8_t> packet, size_t mtu,
                                    std::span<uint8_t> storage, std::span<std::span<uint8_t>> out_packets,
                                    VnetOrigin origin = VnetOrigin::Peer);

}  // namespace dialout
