#include "tund/sysctl.hpp"

#include <gtest/gtest.h>

#include "tests/support/netns.hpp"

namespace dialout {
namespace {

TEST(Sysctl, ReadsWithoutNewlineAndRejectsEscapes) {
  auto v = read_sysctl("kernel/ostype");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(*v, "Linux");
  for (const char* bad : {"", "/etc/passwd", "net/../../etc/passwd"}) {
    auto r = read_sysctl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("invalid key"), std::string::npos) << r.error();
  }
  auto missing = read_sysctl("net/ipv4/conf/nosuchlink0/forwarding");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("/proc/sys/net/ipv4/conf/nosuchlink0/forwarding"), std::string::npos);
}

TEST(Sysctl, WritesPerNamespace) {
  REQUIRE_NETNS_CAPS();
  testing::in_fresh_netns([] {
    ASSERT_EQ(*read_sysctl("net/ipv4/ip_forward"), "0");
    ASSERT_TRUE(write_sysctl("net/ipv4/ip_forward", "1"));
    EXPECT_EQ(*read_sysctl("net/ipv4/ip_forward"), "1");
    EXPECT_EQ(*read_sysctl("net/ipv4/conf/lo/forwarding"), "1");
    auto bad = write_sysctl("net/ipv4/ip_forward", "banana");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().find("= banana"), std::string::npos) << bad.error();
  });
}

}  // namespace
}  // namespace dialout
