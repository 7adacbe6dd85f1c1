#include "intermediary/access_rule.hpp"

#include <fmt/format.h>

#include <charconv>

namespace dialout {

namespace {

constexpr std::string_view kSpace = " \t";

// Splits `s` at runs of blanks into at most `max` fields; false if more.
bool split_fields(std::string_view s, std::string_view (&out)[2], size_t& count) {
  count = 0;
  while (true) {
    auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return true;
    s = s.substr(b);
    auto e = s.find_first_of(kSpace);
    if (count == 2) return false;
    out[count++] = s.substr(0, e);
    if (e == std::string_view::npos) return true;
    s = s.substr(e);
  }
}

// Decimal 1..65535, digits only (no sign, no spaces).
bool parse_port(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0 || v > 65535) return false;
  out = static_cast<uint16_t>(v);
  return true;
}

const char* protocol_name(uint8_t p) {
  switch (p) {
    case AccessRule::kIcmp: return "icmp";
    case AccessRule::kTcp: return "tcp";
    case AccessRule::kUdp: return "udp";
    case AccessRule::kIcmpV6: return "icmpv6";
    default: return nullptr;
  }
}

}  // namespace

Expected<AccessRule, std::string> AccessRule::parse(std::string_view text) {
  std::string_view fields[2];
  size_t n = 0;
  if (!split_fields(text, fields, n)) return unexpected(std::string("too many fields (want 'PREFIX [PROTO[/PORTS]]')"));
  if (n == 0) return unexpected(std::string("empty rule"));

  AccessRule rule;
  auto prefix = Prefix::parse(fields[0]);
  if (!prefix) return unexpected(fmt::format("bad destination '{}' (want an address or a prefix without host bits)", fields[0]));
  rule.dst = *prefix;
  if (n == 1) return rule;

  auto proto_text = fields[1];
  auto slash = proto_text.find('/');
  auto name = proto_text.substr(0, slash);
  bool v6 = rule.dst.addr.family == Family::V6;
  if (name == "tcp") {
    rule.protocol = kTcp;
  } else if (name == "udp") {
    rule.protocol = kUdp;
  } else if (name == "icmp") {
    if (v6) return unexpected(std::string("'icmp' with an IPv6 destination: use 'icmpv6'"));
    rule.protocol = kIcmp;
  } else if (name == "icmpv6") {
    if (!v6) return unexpected(std::string("'icmpv6' with an IPv4 destination: use 'icmp'"));
    rule.protocol = kIcmpV6;
  } else {
    return unexpected(fmt::format("unknown protocol '{}' (want tcp, udp, icmp or icmpv6)", name));
  }
  if (slash == std::string_view::npos) return rule;

  if (rule.protocol != kTcp && rule.protocol != kUdp) {
    return unexpected(fmt::format("'{}' has no ports", name));
  }
  auto ports = proto_text.substr(slash + 1);
  auto dash = ports.find('-');
  auto lo_text = ports.substr(0, dash);
  auto hi_text = dash == std::string_view::npos ? lo_text : ports.substr(dash + 1);
  if (!parse_port(lo_text, rule.port_lo) || !parse_port(hi_text, rule.port_hi)) {
    return unexpected(fmt::format("bad port range '{}' (want N or LO-HI within 1..65535)", ports));
  }
  if (rule.port_lo > rule.port_hi) {
    return unexpected(fmt::format("bad port range '{}': low end above high end", ports));
  }
  return rule;
}

bool AccessRule::matches(const PacketInfo& packet) const {
  if (!dst.contains(packet.dst)) return false;  // also rejects the other family
  if (protocol != kAny && packet.protocol != protocol) return false;
  if (!has_ports()) return true;
  // See the header: fragments carry no ports, so a port rule cannot vouch for them.
  if (packet.fragment) return false;
  return packet.dst_port >= port_lo && packet.dst_port <= port_hi;
}

std::string AccessRule::to_string() const {
  std::string out = dst.to_string();
  const char* name = protocol_name(protocol);
  if (!name) return protocol == kAny ? out : out + fmt::format(" proto-{}", protocol);
  out += ' ';
  out += name;
  if (has_ports()) {
    out += port_lo == port_hi ? fmt::format("/{}", port_lo) : fmt::format("/{}-{}", port_lo, port_hi);
  }
  return out;
}

}  // namespace dialout
