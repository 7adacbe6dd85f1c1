// One per-user access rule: a destination prefix, optionally narrowed to a
// protocol and a destination port range. Policy `allow = RULE` lines hold these.
//
// Text forms (one or two whitespace-separated fields):
//   10.2.0.0/24               any protocol to the prefix
//   10.2.0.20 tcp/443         a bare address is a host prefix
//   10.2.0.0/24 tcp/8000-8080 inclusive port range, 1..65535, lo <= hi
//   10.2.0.0/24 udp           any UDP port
//   10.2.0.0/24 icmp          ICMP (IPv4 prefixes only)
//   fd00:2::/64 icmpv6        ICMPv6 (IPv6 prefixes only)
//   fd00:2::/64 tcp/22
// Protocol names are lower case; ports only after tcp or udp.
//
// Fragments: a rule with ports never matches a fragment (first fragment
// included — PacketInfo carries no ports for any fragment, so that all
// fragments of one datagram get the same verdict and hash). Without ports
// there is nothing to check, and per-packet matching has no state to carry a
// first fragment's verdict to the rest; failing closed is the safe choice.
// It costs little: TCP sets DF and sizes segments by MSS, so it does not
// fragment inside the tunnel (inner MTU 1500); a gateway that masquerades runs
// conntrack, whose defragmentation reassembles before the datagram reaches
// the TUN device, so the rule then sees whole datagrams. What remains is
// large UDP sent by the laptop itself to a port-restricted destination; grant
// such a service with a protocol-only rule ("10.2.0.5 udp").
// Rules without ports match fragments normally (address and protocol are in
// every fragment).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/ip_packet.hpp"

namespace dialout {

struct AccessRule {
  static constexpr uint8_t kAny = 0, kIcmp = 1, kTcp = 6, kUdp = 17, kIcmpV6 = 58;

  Prefix dst;
  uint8_t protocol = kAny;  // 0 any, 1 icmp, 6 tcp, 17 udp, 58 icmpv6
  uint16_t port_lo = 0, port_hi = 65535;

  // The error text says what is wrong with `text` (the caller adds where).
  static Expected<AccessRule, std::string> parse(std::string_view text);

  // True when the rule narrows destination ports (0..65535 means it does not).
  bool has_ports() const { return port_lo != 0 || port_hi != 65535; }
  // Pure, allocation-free: safe per packet.
  bool matches(const PacketInfo& packet) const;
  // Canonical text that parse() accepts: "10.2.0.20/32 tcp/443".
  std::string to_string() const;

  bool operator==(const AccessRule&) const = default;
};

}  // namespace dialout
