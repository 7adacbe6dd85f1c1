#include "netlib/ip_packet.hpp"

namespace dialout {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoDestOpts = 60;
// Real packets carry at most a few extension headers; the bound keeps a
// hostile chain from costing more than a few reads.
constexpr int kMaxExtensionHeaders = 8;

// IPv4 options (RFC 791): single-byte end-of-list and no-operation, every
// other option is type, length (counting both), data.
constexpr uint8_t kIpOptEnd = 0x00;
constexpr uint8_t kIpOptNop = 0x01;
constexpr uint8_t kIpOptLsrr = 0x83;  // loose source and record route
constexpr uint8_t kIpOptSsrr = 0x89;  // strict source and record route

constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Fills ports and the pure-ACK flag from the upper-layer header at `off`.
// `end` is the end of the IP packet (total length), not of the buffer.
Expected<void, PacketError> parse_transport(std::span<const uint8_t> pkt, size_t off, size_t end,
                                            PacketInfo& info) {
  if (info.fragment) return {};  // ports only in the first fragment: keep all fragments alike
  if (info.protocol == kProtoTcp) {
    if (end - off < 20) return unexpected(PacketError::BadTransportHeader);
    const uint8_t* t = pkt.data() + off;
    size_t data_off = static_cast<size_t>(t[12] >> 4) * 4;
    if (data_off < 20 || data_off > end - off) return unexpected(PacketError::BadTransportHeader);
    info.src_port = be16(t);
    info.dst_port = be16(t + 2);
    uint8_t flags = t[13];
    info.tcp_pure_ack = (flags & kTcpAck) && !(flags & (kTcpSyn | kTcpFin | kTcpRst)) &&
                        data_off == end - off;
  } else if (info.protocol == kProtoUdp) {
    if (end - off < 8) return unexpected(PacketError::BadTransportHeader);
    const uint8_t* u = pkt.data() + off;
    uint16_t udp_len = be16(u + 4);
    // 0 is legal only for IPv6 jumbograms, which we do not accept anyway.
    if (udp_len < 8 || udp_len > end - off) return unexpected(PacketError::BadTransportHeader);
    info.src_port = be16(u);
    info.dst_port = be16(u + 2);
  }
  return {};
}

// Walks the option bytes between the fixed header and IHL. Every step moves
// forward by at least one byte, so the walk is bounded by 40 bytes.
Expected<void, PacketError> check_v4_options(std::span<const uint8_t> options) {
  size_t off = 0;
  while (off < options.size()) {
    const uint8_t type = options[off];
    if (type == kIpOptEnd) return {};  // the rest is padding
    if (type == kIpOptNop) {
      ++off;
      continue;
    }
    if (options.size() - off < 2) return unexpected(PacketError::BadIpv4Options);
    const size_t len = options[off + 1];
    if (len < 2 || len > options.size() - off) return unexpected(PacketError::BadIpv4Options);
    if (type == kIpOptLsrr || type == kIpOptSsrr) return unexpected(PacketError::SourceRoute);
    off += len;
  }
  return {};
}

Expected<PacketInfo, PacketError> parse_v4(std::span<const uint8_t> pkt) {
  if (pkt.size() < 20) return unexpected(PacketError::Truncated);
  const uint8_t* h = pkt.data();
  size_t ihl = static_cast<size_t>(h[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > pkt.size()) return unexpected(PacketError::BadHeaderLength);
  size_t total = be16(h + 2);
  if (total < ihl || total > pkt.size()) return unexpected(PacketError::BadTotalLength);
  if (auto ok = check_v4_options(pkt.subspan(20, ihl - 20)); !ok) return unexpected(ok.error());

  PacketInfo info;
  info.src = IpAddr::v4(std::span<const uint8_t, 4>(h + 12, 4));
  info.dst = IpAddr::v4(std::span<const uint8_t, 4>(h + 16, 4));
  info.protocol = h[9];
  info.header_len = static_cast<uint16_t>(ihl);
  info.total_len = static_cast<uint32_t>(total);
  uint16_t frag = be16(h + 6);
  info.fragment = (frag & 0x2000) || (frag & 0x1fff);  // MF set or non-zero offset
  auto t = parse_transport(pkt, ihl, total, info);
  if (!t) return unexpected(t.error());
  return info;
}

Expected<PacketInfo, PacketError> parse_v6(std::span<const uint8_t> pkt) {
  if (pkt.size() < 40) return unexpected(PacketError::Truncated);
  const uint8_t* h = pkt.data();
  size_t total = 40 + static_cast<size_t>(be16(h + 4));
  if (total > pkt.size()) return unexpected(PacketError::BadTotalLength);

  PacketInfo info;
  info.src = IpAddr::v6(std::span<const uint8_t, 16>(h + 8, 16));
  info.dst = IpAddr::v6(std::span<const uint8_t, 16>(h + 24, 16));
  info.total_len = static_cast<uint32_t>(total);

  uint8_t next = h[6];
  size_t off = 40;
  bool later_fragment = false;  // upper-layer header is not in this packet
  for (int i = 0;; ++i) {
    // Also as the announced header of a later fragment: whatever it would
    // route, the datagram as a whole is source-routed.
    if (next == kProtoRouting) return unexpected(PacketError::RoutingHeader);
    bool ext = next == kProtoHopByHop || next == kProtoFragment || next == kProtoAh || next == kProtoDestOpts;
    if (!ext || later_fragment) break;
    if (i == kMaxExtensionHeaders) return unexpected(PacketError::BadExtensionHeader);
    // Hop-by-hop is only allowed right after the fixed header (RFC 8200 4.1).
    if (next == kProtoHopByHop && i != 0) return unexpected(PacketError::BadExtensionHeader);
    if (total - off < 8) return unexpected(PacketError::BadExtensionHeader);
    const uint8_t* e = h + off;
    size_t len;
    if (next == kProtoFragment) {
      len = 8;
      uint16_t frag = be16(e + 2);
      info.fragment = true;  // even an atomic fragment: its ports must not differ from its peers'
      later_fragment = (frag & 0xfff8) != 0;
    } else if (next == kProtoAh) {
      len = (static_cast<size_t>(e[1]) + 2) * 4;
    } else {
      len = (static_cast<size_t>(e[1]) + 1) * 8;
    }
    if (len > total - off) return unexpected(PacketError::BadExtensionHeader);
    next = e[0];
    off += len;
  }
  info.protocol = next;
  info.header_len = static_cast<uint16_t>(off);
  auto t = parse_transport(pkt, off, total, info);
  if (!t) return unexpected(t.error());
  return info;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 31);
}

// Byte by byte so the hash is the same on every architecture.
uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

}  // namespace

const char* to_string(PacketError e) {
  switch (e) {
    case PacketError::Truncated: return "truncated";
    case PacketError::BadVersion: return "bad IP version";
    case PacketError::BadHeaderLength: return "bad header length";
    case PacketError::BadTotalLength: return "bad total length";
    case PacketError::BadExtensionHeader: return "bad IPv6 extension header";
    case PacketError::BadTransportHeader: return "bad TCP/UDP header";
    case PacketError::BadIpv4Options: return "malformed IPv4 options";
    case PacketError::SourceRoute: return "IPv4 source route option (LSRR/SSRR)";
    case PacketError::RoutingHeader: return "IPv6 routing header";
  }
  return "unknown packet error";
}

Expected<PacketInfo, PacketError> parse_ip_packet(std::span<const uint8_t> packet) {
  if (packet.empty()) return unexpected(PacketError::Truncated);
  switch (packet[0] >> 4) {
    case 4: return parse_v4(packet);
    case 6: return parse_v6(packet);
    default: return unexpected(PacketError::BadVersion);
  }
}

uint32_t flow_hash(const PacketInfo& info) {
  uint64_t h = static_cast<uint64_t>(info.src.family);
  h = mix(h, load_be64(info.src.bytes.data()));
  h = mix(h, load_be64(info.src.bytes.data() + 8));
  h = mix(h, load_be64(info.dst.bytes.data()));
  h = mix(h, load_be64(info.dst.bytes.data() + 8));
  h = mix(h, uint64_t{info.protocol} << 32 | uint64_t{info.src_port} << 16 | info.dst_port);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

}  // namespace dialout
