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

}  // namespace
}  // namespace dialout
