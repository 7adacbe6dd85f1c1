// One `advertise` entry of a site: the LAN prefix it serves (inside) and the
// prefix everyone else knows it by (outside). They differ only for
// "192.168.1.0/24 as 10.101.0.0/24" (two offices with the same LAN range):
// the site REGISTERs the outside prefix, the intermediary and its policy
// only ever see that one, and tund translates between the two 1:1 (keeping
// the host bits, like iptables NETMAP; tund/prefix_translation.hpp).
#pragma once

#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

struct PrefixMapping {
  Prefix inside;   // the LAN as its hosts number it
  Prefix outside;  // what is registered; equal to inside when not translated
  bool translated() const { return inside != outside; }
  bool operator==(const PrefixMapping&) const = default;
};

// "PREFIX" or "PREFIX as PREFIX" (one or more spaces around "as"): both
// canonical, of the same family and length. Pure; the error names the
// problem (the caller adds where).
Expected<PrefixMapping, std::string> parse_prefix_mapping(std::string_view text);

}  // namespace dialout
