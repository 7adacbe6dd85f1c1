#include "netlib/dns_config.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

TEST(DnsConfig, DomainSyntax) {
  struct Case {
    std::string name;
    bool ok;
  };
  const Case cases[] = {
      {"office-a.lan", true},
      {"corp.example", true},
      {"lan", true},
      {"_msdcs.corp.example", true},
      {"a1.b2", true},
      {"1.2.3.lan", true},
      {std::string(63, 'a') + ".lan", true},
      {std::string(64, 'a') + ".lan", false},  // label over 63
      {"", false},
      {".", false},
      {"office-a.lan.", false},  // trailing dot: one spelling per name
      {".lan", false},
      {"a..lan", false},
      {"Office.lan", false},  // upper case: the policy lower-cases first
      {"-a.lan", false},
      {"a-.lan", false},
      {"a.lan-", false},
      {"a b.lan", false},
      {"a/b", false},
      {"10.1.0.53", false},  // an address, not a domain
      {"a.123", false},
  };
  for (const auto& c : cases) EXPECT_EQ(valid_dns_domain(c.name), c.ok) << c.name;
  std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                        std::string(61, 'd');
  ASSERT_EQ(longest.size(), kMaxDnsDomainLength);
  EXPECT_TRUE(valid_dns_domain(longest));
  EXPECT_FALSE(valid_dns_domain(longest + "d"));
}

TEST(DnsConfig, UsableServers) {
  struct Case {
    const char* addr;
    bool ok;
  };
  const Case cases[] = {
      {"10.1.0.53", true},      {"192.0.2.1", true},   {"fd00::53", true},  {"2001:db8::1", true},
      {"0.0.0.0", false},       {"127.0.0.53", false}, {"224.0.0.251", false}, {"255.255.255.255", false},
      {"::", false},            {"::1", false},        {"ff02::fb", false},  {"fe80::1", false},
  };
  for (const auto& c : cases) EXPECT_EQ(usable_dns_server(*IpAddr::parse(c.addr)), c.ok) << c.addr;
}

TEST(DnsConfig, WholeConfig) {
  auto a = *IpAddr::parse("10.1.0.53");
  auto b = *IpAddr::parse("fd00::53");
  EXPECT_TRUE(valid_dns_config({}));
  EXPECT_TRUE(valid_dns_config({{a, b}, {"office-a.lan", "corp.example"}}));
  EXPECT_FALSE(valid_dns_config({{a}, {}}));
  EXPECT_FALSE(valid_dns_config({{}, {"office-a.lan"}}));
  EXPECT_FALSE(valid_dns_config({{a, a}, {"office-a.lan"}}));
  EXPECT_FALSE(valid_dns_config({{a}, {"office-a.lan", "office-a.lan"}}));
  EXPECT_FALSE(valid_dns_config({std::vector<IpAddr>(kMaxDnsServers + 1, a), {"x.lan"}}));
}

}  // namespace
}  // namespace dialout
