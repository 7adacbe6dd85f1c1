#include "tund/dns_plan.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

using Argv = std::vector<std::string>;

DnsConfig cfg(std::vector<const char*> servers, std::vector<std::string> domains) {
  DnsConfig c;
  for (const char* s : servers) c.servers.push_back(*IpAddr::parse(s));
  c.domains = std::move(domains);
  return c;
}

std::vector<Argv> argvs(const std::vector<DnsCommand>& cs) {
  std::vector<Argv> out;
  for (const auto& c : cs) out.push_back(c.argv);
  return out;
}

TEST(DnsPlan, ChooseMethod) {
  struct Case {
    DnsMode mode;
    bool hook, resolved;
    DnsMethod want;
  };
  const Case cases[] = {
      {DnsMode::Auto, false, false, DnsMethod::None},
      {DnsMode::Auto, false, true, DnsMethod::Resolvectl},
      {DnsMode::Auto, true, true, DnsMethod::Hook},  // the operator's hook wins
      {DnsMode::Auto, true, false, DnsMethod::Hook},
      {DnsMode::Resolvectl, false, false, DnsMethod::Resolvectl},  // asked for: tried, errors logged
      {DnsMode::Hook, true, true, DnsMethod::Hook},
      {DnsMode::Off, true, true, DnsMethod::None},
  };
  for (const auto& c : cases)
    EXPECT_EQ(choose_dns_method(c.mode, c.hook, c.resolved), c.want)
        << to_string(c.mode) << " hook " << c.hook << " resolved " << c.resolved;
}

TEST(DnsPlan, ResolvectlTable) {
  const DnsPlanSettings s{DnsMethod::Resolvectl, "dl0", "/usr/bin/resolvectl", ""};
  const auto a = cfg({"10.1.0.53", "fd00:1::53"}, {"office-a.lan", "corp.example"});
  const auto b = cfg({"10.2.0.53"}, {"office-b.lan"});
  const std::vector<Argv> set_a = {{"/usr/bin/resolvectl", "dns", "dl0", "10.1.0.53", "fd00:1::53"},
                                   {"/usr/bin/resolvectl", "domain", "dl0", "office-a.lan", "corp.example"},
                                   {"/usr/bin/resolvectl", "default-route", "dl0", "false"}};
  const std::vector<Argv> set_b = {{"/usr/bin/resolvectl", "dns", "dl0", "10.2.0.53"},
                                   {"/usr/bin/resolvectl", "domain", "dl0", "office-b.lan"},
                                   {"/usr/bin/resolvectl", "default-route", "dl0", "false"}};
  const std::vector<Argv> revert = {{"/usr/bin/resolvectl", "revert", "dl0"}};
  EXPECT_EQ(argvs(plan_dns(s, {}, a)), set_a);
  EXPECT_EQ(argvs(plan_dns(s, a, b)), set_b) << "each list replaces the link's: no revert in between";
  EXPECT_EQ(argvs(plan_dns(s, a, {})), revert);
  EXPECT_TRUE(plan_dns(s, a, a).empty());
  EXPECT_TRUE(plan_dns(s, {}, {}).empty());
  for (const auto& c : plan_dns(s, {}, a)) EXPECT_TRUE(c.env.empty());
}

TEST(DnsPlan, HookTable) {
  const DnsPlanSettings s{DnsMethod::Hook, "dl0", "resolvectl", "/etc/dialout/dns-hook"};
  const auto a = cfg({"10.1.0.53", "fd00:1::53"}, {"office-a.lan", "corp.example"});
  const auto b = cfg({"10.2.0.53"}, {"office-b.lan"});
  const DnsCommand up_a{{"/etc/dialout/dns-hook", "up", "dl0"},
                        {"DIALOUT_DNS_SERVERS=10.1.0.53 fd00:1::53", "DIALOUT_DNS_DOMAINS=office-a.lan corp.example",
                         "DIALOUT_INTERFACE=dl0"}};
  const DnsCommand down_a{{"/etc/dialout/dns-hook", "down", "dl0"}, up_a.env};
  const DnsCommand up_b{{"/etc/dialout/dns-hook", "up", "dl0"},
                        {"DIALOUT_DNS_SERVERS=10.2.0.53", "DIALOUT_DNS_DOMAINS=office-b.lan", "DIALOUT_INTERFACE=dl0"}};
  EXPECT_EQ(plan_dns(s, {}, a), std::vector<DnsCommand>{up_a});
  EXPECT_EQ(plan_dns(s, a, b), (std::vector<DnsCommand>{down_a, up_b})) << "down with what up set, then up";
  EXPECT_EQ(plan_dns(s, a, {}), std::vector<DnsCommand>{down_a});
  EXPECT_TRUE(plan_dns(s, b, b).empty());
}

TEST(DnsPlan, NoneRunsNothing) {
  const DnsPlanSettings s{DnsMethod::None, "dl0", "resolvectl", ""};
  EXPECT_TRUE(plan_dns(s, {}, cfg({"10.1.0.53"}, {"a.lan"})).empty());
  EXPECT_TRUE(plan_dns(s, cfg({"10.1.0.53"}, {"a.lan"}), {}).empty());
}

}  // namespace
}  // namespace dialout
