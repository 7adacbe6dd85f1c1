#include "intermediary/access_rule.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dialout {
namespace {

struct ParseCase {
  const char* text;
  const char* canonical;  // nullptr: must be rejected
  const char* error;      // substring of the error when rejected
};

TEST(AccessRule, ParseTable) {
  const ParseCase cases[] = {
      {"10.2.0.0/24", "10.2.0.0/24", nullptr},
      {"10.2.0.20 tcp/443", "10.2.0.20/32 tcp/443", nullptr},
      {"  10.2.0.20/32\ttcp/443  ", "10.2.0.20/32 tcp/443", nullptr},
      {"10.2.0.0/24 tcp/8000-8080", "10.2.0.0/24 tcp/8000-8080", nullptr},
      {"10.2.0.0/24 tcp/80-80", "10.2.0.0/24 tcp/80", nullptr},
      {"10.2.0.0/24 udp", "10.2.0.0/24 udp", nullptr},
      {"10.2.0.0/24 udp/1-65535", "10.2.0.0/24 udp/1-65535", nullptr},
      {"10.2.0.0/24 icmp", "10.2.0.0/24 icmp", nullptr},
      {"fd00:2::/64 tcp/22", "fd00:2::/64 tcp/22", nullptr},
      {"fd00:2::/64 icmpv6", "fd00:2::/64 icmpv6", nullptr},
      {"0.0.0.0/0", "0.0.0.0/0", nullptr},
      {"", nullptr, "empty rule"},
      {"   ", nullptr, "empty rule"},
      {"10.2.0.1/24", nullptr, "bad destination '10.2.0.1/24'"},
      {"10.2.0.0/33", nullptr, "bad destination"},
      {"hq", nullptr, "bad destination 'hq'"},
      {"10.2.0.0/24 tcp/443 extra", nullptr, "too many fields"},
      {"10.2.0.0/24 sctp", nullptr, "unknown protocol 'sctp'"},
      {"10.2.0.0/24 TCP/443", nullptr, "unknown protocol 'TCP'"},
      {"10.2.0.0/24 /443", nullptr, "unknown protocol ''"},
      {"10.2.0.0/24 icmp/8", nullptr, "'icmp' has no ports"},
      {"10.2.0.0/24 icmpv6", nullptr, "use 'icmp'"},
      {"fd00::/64 icmp", nullptr, "use 'icmpv6'"},
      {"10.2.0.0/24 tcp/", nullptr, "bad port range ''"},
      {"10.2.0.0/24 tcp/0", nullptr, "bad port range '0'"},
      {"10.2.0.0/24 tcp/65536", nullptr, "bad port range"},
      {"10.2.0.0/24 tcp/+80", nullptr, "bad port range"},
      {"10.2.0.0/24 tcp/80-", nullptr, "bad port range"},
      {"10.2.0.0/24 tcp/-80", nullptr, "bad port range"},
      {"10.2.0.0/24 tcp/80-90-100", nullptr, "bad port range"},
      {"10.2.0.0/24 tcp/9000-8000", nullptr, "low end above high end"},
      {"10.2.0.0/24 tcp/http", nullptr, "bad port range 'http'"},
      {"10.2.0.0/24 tcp/000443", nullptr, "bad port range"},
  };
  for (const auto& c : cases) {
    auto r = AccessRule::parse(c.text);
    if (c.canonical) {
      ASSERT_TRUE(r) << "'" << c.text << "': " << r.error();
      EXPECT_EQ(r->to_string(), c.canonical) << c.text;
      auto again = AccessRule::parse(r->to_string());
      ASSERT_TRUE(again) << r->to_string();
      EXPECT_EQ(*again, *r) << c.text;
    } else {
      ASSERT_FALSE(r) << "'" << c.text << "' parsed as " << r->to_string();
      EXPECT_NE(r.error().find(c.error), std::string::npos) << c.text << " -> " << r.error();
    }
  }
}

TEST(AccessRule, ParsedFields) {
  auto r = AccessRule::parse("10.2.0.0/24 tcp/8000-8080");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dst, *Prefix::parse("10.2.0.0/24"));
  EXPECT_EQ(r->protocol, AccessRule::kTcp);
  EXPECT_EQ(r->port_lo, 8000);
  EXPECT_EQ(r->port_hi, 8080);
  EXPECT_TRUE(r->has_ports());
  auto any = AccessRule::parse("10.2.0.0/24");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->protocol, AccessRule::kAny);
  EXPECT_FALSE(any->has_ports());
}

PacketInfo packet(const char* dst, uint8_t proto, uint16_t dport, bool fragment = false) {
  PacketInfo p;
  bool v6 = std::string(dst).find(':') != std::string::npos;
  p.src = *IpAddr::parse(v6 ? "fd00:9::1" : "10.255.0.7");
  p.dst = *IpAddr::parse(dst);
  p.protocol = proto;
  p.src_port = (proto == 6 || proto == 17) && !fragment ? 40000 : 0;
  p.dst_port = fragment ? 0 : dport;
  p.fragment = fragment;
  return p;
}

struct MatchCase {
  const char* rule;
  PacketInfo pkt;
  bool want;
};

TEST(AccessRule, MatchTable) {
  const MatchCase cases[] = {
      // Prefix only: any protocol, fragments too.
      {"10.2.0.0/24", packet("10.2.0.20", 6, 443), true},
      {"10.2.0.0/24", packet("10.2.0.255", 17, 53), true},
      {"10.2.0.0/24", packet("10.2.0.9", 1, 0), true},
      {"10.2.0.0/24", packet("10.2.0.9", 17, 0, true), true},
      {"10.2.0.0/24", packet("10.2.1.9", 6, 443), false},
      {"10.2.0.0/24", packet("fd00:2::1", 6, 443), false},  // other family
      {"0.0.0.0/0", packet("fd00:2::1", 6, 443), false},
      {"::/0", packet("fd00:2::1", 58, 0), true},
      // Host rule with one port.
      {"10.2.0.20 tcp/443", packet("10.2.0.20", 6, 443), true},
      {"10.2.0.20 tcp/443", packet("10.2.0.20", 6, 444), false},
      {"10.2.0.20 tcp/443", packet("10.2.0.20", 6, 442), false},
      {"10.2.0.20 tcp/443", packet("10.2.0.20", 17, 443), false},  // UDP is not TCP
      {"10.2.0.20 tcp/443", packet("10.2.0.21", 6, 443), false},
      {"10.2.0.20 tcp/443", packet("10.2.0.20", 1, 0), false},
      {"10.2.0.20 tcp/443", packet("10.2.0.20", 6, 0, true), false},  // fragment: no port
      // Port ranges, inclusive at both ends.
      {"10.2.0.0/24 tcp/8000-8080", packet("10.2.0.1", 6, 8000), true},
      {"10.2.0.0/24 tcp/8000-8080", packet("10.2.0.1", 6, 8080), true},
      {"10.2.0.0/24 tcp/8000-8080", packet("10.2.0.1", 6, 7999), false},
      {"10.2.0.0/24 tcp/8000-8080", packet("10.2.0.1", 6, 8081), false},
      {"10.2.0.0/24 udp/1-65535", packet("10.2.0.1", 17, 65535), true},
      {"10.2.0.0/24 udp/1-65535", packet("10.2.0.1", 17, 0, true), false},
      // Protocol without ports: fragments of that protocol match.
      {"10.2.0.0/24 udp", packet("10.2.0.1", 17, 53), true},
      {"10.2.0.0/24 udp", packet("10.2.0.1", 17, 0, true), true},
      {"10.2.0.0/24 udp", packet("10.2.0.1", 6, 53), false},
      {"10.2.0.0/24 icmp", packet("10.2.0.1", 1, 0), true},
      {"10.2.0.0/24 icmp", packet("10.2.0.1", 6, 0), false},
      {"fd00:2::/64 icmpv6", packet("fd00:2::5", 58, 0), true},
      {"fd00:2::/64 icmpv6", packet("fd00:2::5", 1, 0), false},
      // IPv6 with ports.
      {"fd00:2::/64 tcp/22", packet("fd00:2::5", 6, 22), true},
      {"fd00:2::/64 tcp/22", packet("fd00:2:0:1::5", 6, 22), false},
      {"fd00:2::/64 tcp/22", packet("fd00:2::5", 6, 23), false},
      {"fd00:2::/64 tcp/22", packet("fd00:2::5", 6, 0, true), false},
      {"fd00:2::/64 tcp/22", packet("10.2.0.1", 6, 22), false},
  };
  for (const auto& c : cases) {
    auto r = AccessRule::parse(c.rule);
    ASSERT_TRUE(r) << c.rule;
    EXPECT_EQ(r->matches(c.pkt), c.want)
        << c.rule << " vs " << c.pkt.dst.to_string() << " proto " << int(c.pkt.protocol) << " port "
        << c.pkt.dst_port << (c.pkt.fragment ? " fragment" : "");
  }
}

TEST(AccessRule, HandBuiltRuleWithOddProtocol) {
  AccessRule r;
  r.dst = *Prefix::parse("10.0.0.0/8");
  r.protocol = 47;  // GRE: not expressible in text, still matchable
  EXPECT_EQ(r.to_string(), "10.0.0.0/8 proto-47");
  EXPECT_TRUE(r.matches(packet("10.1.2.3", 47, 0)));
  EXPECT_FALSE(r.matches(packet("10.1.2.3", 6, 0)));
}

}  // namespace
}  // namespace dialout
