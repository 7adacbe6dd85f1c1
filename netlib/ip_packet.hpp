// Strict IPv4/IPv6 header parsing for the data path: addresses, protocol,
// ports, lengths. Reads only; never allocates.
//
// Source-routed datagrams (IPv4 LSRR/SSRR options, IPv6 routing headers) are
// refused: their real next hops are not the destination address that policy
// and routing look at, so a peer could use one to reach past its grants.
#pragma once

#include <cstdint>
#include <span>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

struct PacketInfo {
  IpAddr src, dst;
  uint8_t protocol = 0;  // IPv6: the upper-layer protocol after extension headers
  uint16_t src_port = 0, dst_port = 0;  // 0 when not TCP/UDP or a fragment
  uint16_t header_len = 0;  // bytes before the upper-layer header (IPv6: incl. extension headers)
  uint32_t total_len = 0;   // from the header; may be less than the buffer (trailing bytes ignored)
  bool fragment = false;    // any fragment, first one included
  bool tcp_pure_ack = false;  // TCP, ACK set, no SYN/FIN/RST, no payload
};

enum class PacketError {
  Truncated,           // buffer shorter than a fixed header
  BadVersion,          // not 4 or 6
  BadHeaderLength,     // IPv4 IHL < 5 or beyond the packet
  BadTotalLength,      // total length below the header or beyond the buffer
  BadExtensionHeader,  // IPv6 extension chain overruns the packet or is too long
  BadTransportHeader,  // TCP/UDP header truncated or inconsistent
  BadIpv4Options,      // IPv4 option list malformed (an option length below 2 or past the header)
  SourceRoute,         // IPv4 loose or strict source route option (LSRR/SSRR)
  RoutingHeader,       // IPv6 routing header anywhere in the extension chain
};

const char* to_string(PacketError e);

Expected<PacketInfo, PacketError> parse_ip_packet(std::span<const uint8_t> packet);

// Stable for a 5-tuple (family, addresses, protocol, ports) in every process:
// fixed mixing constants, no per-process seed, so queues picked by it stay put
// across restarts and between the two ends.
uint32_t flow_hash(const PacketInfo& info);

}  // namespace dialout
