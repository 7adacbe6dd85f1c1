// Datagrams built field by field with every checksum computed from scratch
// (no incremental arithmetic), so a translated datagram can be compared
// byte for byte with one built directly with the translated addresses.
// IPv4/IPv6, TCP/UDP/ICMP/ICMPv6, ICMP errors quoting another datagram,
// fragments, and the partial checksum a kernel leaves with NEEDS_CSUM.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace dialout::test {

struct DatagramSpec {
  DatagramSpec(std::string s, std::string d, uint8_t proto, size_t bytes = 40, bool partial_sum = false,
               bool no_udp_checksum = false, uint8_t type = 0)
      : src(std::move(s)), dst(std::move(d)), protocol(proto), payload(bytes), partial(partial_sum),
        udp_no_checksum(no_udp_checksum), icmp_type(type) {}
  std::string src, dst;  // both of one family
  uint8_t protocol = 17;  // 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6
  size_t payload = 40;    // patterned bytes after the L4 header (not for an ICMP with a quote)
  bool partial = false;   // TCP/UDP: the field holds the uncomplemented pseudo-header sum
  bool udp_no_checksum = false;  // UDP/IPv4: checksum 0
  uint8_t icmp_type = 0, icmp_code = 0;
  uint32_t icmp_rest = 0;             // the ICMP header's last 4 bytes (e.g. the MTU)
  std::vector<uint8_t> quote;         // ICMP: the quoted datagram (the payload then)
  bool v6_fragment_header = false;    // IPv6: a fragment header (id 7, offset 0, M set)
};

std::vector<uint8_t> build_datagram(const DatagramSpec& spec);

// The datagram as two fragments, cut `first_bytes` (a multiple of 8) into
// its upper-layer part: IPv4 by MF/offset, IPv6 by its fragment header.
std::vector<uint8_t> fragment_of(const std::vector<uint8_t>& whole, size_t first_bytes, bool first);

// The first `n` bytes (an ICMP error's quote is cut short).
std::vector<uint8_t> first_bytes(const std::vector<uint8_t>& p, size_t n);

}  // namespace dialout::test
