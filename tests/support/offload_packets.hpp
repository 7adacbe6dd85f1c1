// Datagrams for the offload-header and source-route tests: kernel-like TCP
// superpackets with their virtio-net header, an IPv4 datagram with a loose
// source route, and DATA frames as a site puts them on the wire.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "netlib/vnet_header.hpp"

namespace dialout::test {

// IPv4/TCP, ACK|PSH, sequence number 1000, `payload_bytes` patterned bytes.
// partial_checksum: the TCP checksum field holds the pseudo-header sum, as
// the kernel leaves it for NEEDS_CSUM; otherwise the full checksum.
std::vector<uint8_t> ipv4_tcp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport,
                              size_t payload_bytes, bool partial_checksum);

// ipv4_udp() with an LSRR option (0x83) listing `hop` before the UDP header.
std::vector<uint8_t> ipv4_udp_lsrr(std::string_view src, std::string_view dst, std::string_view hop, uint16_t sport,
                                   uint16_t dport, std::string_view payload);

// What a kernel puts before ipv4_tcp(..., partial_checksum=true): NEEDS_CSUM
// at the TCP checksum field and, unless gso_size is 0, TCPV4 segmentation.
VnetHeader kernel_tcp4_header(uint16_t gso_size);

// The header's 10 bytes followed by the packet (a vnet TUN read or write).
std::vector<uint8_t> vnet_then(const VnetHeader& header, std::span<const uint8_t> packet);

// A whole DATA frame carrying body (vnet header + datagram when with_vnet).
std::vector<uint8_t> data_frame(std::span<const uint8_t> body, bool with_vnet);

// The IPv4 header checksum and the TCP/UDP checksum both verify.
bool ipv4_checksums_ok(std::span<const uint8_t> packet);

}  // namespace dialout::test
