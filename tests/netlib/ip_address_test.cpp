#include "netlib/ip_address.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

struct PrefixCase {
  const char* text;
  bool valid;
  const char* canonical;
};

TEST(Prefix, ParseTable) {
  const PrefixCase cases[] = {
      {"10.1.0.0/24", true, "10.1.0.0/24"},
      {"10.1.0.1/24", false, ""},  // host bits set
      {"10.1.0.1", true, "10.1.0.1/32"},
      {"0.0.0.0/0", true, "0.0.0.0/0"},
      {"10.0.0.0/33", false, ""},
      {"10.0.0.0/", false, ""},
      {"10.0.0.0/1x", false, ""},
      {"fd00:1::/64", true, "fd00:1::/64"},
      {"fd00::1/129", false, ""},
      {"garbage", false, ""},
      {"", false, ""},
  };
  for (const auto& c : cases) {
    auto p = Prefix::parse(c.text);
    ASSERT_EQ(p.has_value(), c.valid) << c.text;
    if (c.valid) {
      EXPECT_EQ(p->to_string(), c.canonical) << c.text;
    }
  }
}

TEST(Prefix, Contains) {
  auto p = *Prefix::parse("10.1.0.0/23");
  EXPECT_TRUE(p.contains(*IpAddr::parse("10.1.1.255")));
  EXPECT_FALSE(p.contains(*IpAddr::parse("10.1.2.0")));
  EXPECT_FALSE(p.contains(*IpAddr::parse("::a01:100")));
  EXPECT_TRUE(p.contains(*Prefix::parse("10.1.1.0/24")));
  EXPECT_FALSE(p.contains(*Prefix::parse("10.0.0.0/8")));
}

TEST(IpAddr, UnmappedTable) {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"::ffff:192.0.2.7", "192.0.2.7"},      // a dual-stack listener's IPv4 peer
      {"::ffff:0.0.0.0", "0.0.0.0"},
      {"192.0.2.7", "192.0.2.7"},             // already IPv4
      {"2001:db8::1", "2001:db8::1"},         // plain IPv6
      {"::192.0.2.7", "::192.0.2.7"},         // v4-compatible (deprecated): not mapped
      {"::fffe:192.0.2.7", "::fffe:c000:207"},  // one bit off
      {"64:ff9b::192.0.2.7", "64:ff9b::c000:207"},  // NAT64: a real IPv6 peer
      {"::", "::"},
  };
  for (const auto& c : cases) {
    auto a = IpAddr::parse(c.in);
    ASSERT_TRUE(a.has_value()) << c.in;
    EXPECT_EQ(a->unmapped().to_string(), c.out) << c.in;
    EXPECT_EQ(a->unmapped(), *IpAddr::parse(c.out)) << c.in;
  }
}

}  // namespace
}  // namespace dialout
