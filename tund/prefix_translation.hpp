// Stateless 1:1 prefix translation (iptables NETMAP) for a site whose LAN
// range another site also uses: `advertise = 192.168.1.0/24 as
// 10.101.0.0/24`. The network bits of an address are swapped, the host bits
// kept, so nothing is remembered per flow and both directions are exact.
//
// - outbound (read from the TUN device, going into the tunnel): the SOURCE
//   inside → outside. Everyone else, the intermediary and its policy
//   included, only ever sees the outside prefix.
// - inbound (a DATA frame, to be written to the TUN device): the
//   DESTINATION outside → inside.
// - An ICMP/ICMPv6 error (destination unreachable incl. fragmentation
//   needed / packet too big, time exceeded, parameter problem, redirect,
//   source quench) quotes the datagram it is about, which travelled the
//   other way: outbound its embedded DESTINATION is translated as well,
//   inbound its embedded SOURCE, each independently of the outer address
//   (an error from the gateway itself has an outer source outside the LAN
//   but still quotes a LAN host).
//
// Checksums are updated incrementally (RFC 1624, tund/checksum_delta.hpp),
// never summed again: the IPv4 header checksum; the TCP, UDP and ICMPv6
// checksums through their pseudo-header (a UDP/IPv4 zero checksum, "none",
// stays zero; an update that yields zero is sent as 0xffff); the ICMP/ICMPv6
// checksum of an error for every word changed in the quoted datagram. In
// the quoted datagram the IPv4 header checksum is fixed, and its TCP, UDP or
// ICMPv6 checksum too when the quoted bytes still hold that field (UDP and
// ICMPv6 always do, TCP only when 18 bytes of its header are quoted;
// otherwise it is left alone). That is what Linux's NAT does (nf_nat's
// inner-header manipulation skips a TCP checksum the quote cut off); so the
// quote stays consistent wherever it can be.
//
// Fragments: the first fragment's L4 checksum is updated (the delta is the
// same for the whole datagram); later fragments only get their IP header.
//
// virtio-net NEEDS_CSUM (TSO/GSO superpackets, checksum offload): the L4
// field then holds the uncomplemented pseudo-header sum, which is updated
// as such (not complemented; Linux's inet_proto_csum_replace4 for
// CHECKSUM_PARTIAL) — the caller says where that field is.
//
// A datagram whose IP header cannot be read, or whose length fields
// overrun the buffer, is left untouched; the router or proxy client drops
// it after. Pure and allocation-free; the rules are looked up linearly (an
// office has a handful).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "netlib/vnet_header.hpp"
#include "tund/prefix_mapping.hpp"

namespace dialout {

// No field of the datagram holds a partial (uncomplemented) checksum.
inline constexpr size_t kNoPartialChecksum = SIZE_MAX;

// Where a datagram read with (or written behind) this virtio-net header
// keeps its partial checksum: csum_start + csum_offset with NEEDS_CSUM.
size_t partial_checksum_at(const VnetHeader& header);

class PrefixTranslation {
 public:
  // Translated entries only are kept (inside != outside); each pair is of
  // one family and length (parse_prefix_mapping checks it).
  explicit PrefixTranslation(const std::vector<PrefixMapping>& mappings);

  bool empty() const { return out_.empty(); }

  // How many addresses were rewritten (outer and quoted); 0: none matched
  // or the datagram was unreadable, and it is unchanged.
  unsigned outbound(std::span<uint8_t> packet, size_t partial_at = kNoPartialChecksum) const;
  unsigned inbound(std::span<uint8_t> packet, size_t partial_at = kNoPartialChecksum) const;

  struct Rule {
    Family family;
    std::array<uint8_t, 16> from{};  // network bits of the prefix matched
    std::array<uint8_t, 16> to{};    // network bits put in their place
    std::array<uint8_t, 16> mask{};  // the prefix's network bits
  };

 private:
  std::vector<Rule> out_;  // inside → outside
  std::vector<Rule> in_;   // outside → inside
};

}  // namespace dialout
