#include "intermediary/policy.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace dialout {
namespace {

constexpr const char* kPolicy = R"(# Two offices and a laptop fleet.
[identity gw-a]
register  = office-a              # its own name
advertise = 10.1.0.0/16, fd00:1::/48
advertise = 192.168.10.0/24       # repeatable
reach     = office-b

[identity gw-b]
register = office-b, office-b2
advertise = 10.2.0.0/16
reach = *

[identity alice@example.com]
register = laptop-alice

[identity carol]
advertise = 10.1.0.0/16
nest = 10.1.0.200/32, 10.1.9.0/24

  [identity *]   # everyone
reach = hq
)";

Prefix P(const char* s) { return *Prefix::parse(s); }

enum class Ask { Register, Advertise, Reach, Nest };

struct DecisionCase {
  const char* identity;
  Ask ask;
  const char* arg;
  bool want;
};

TEST(Policy, DecisionTable) {
  auto parsed = Policy::parse(kPolicy, "test.policy");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const Policy& p = *parsed;
  EXPECT_EQ(p.section_count(), 5u);
  const DecisionCase cases[] = {
      {"gw-a", Ask::Register, "office-a", true},
      {"gw-a", Ask::Register, "office-b", false},
      {"gw-b", Ask::Register, "office-b2", true},
      {"gw-x", Ask::Register, "office-a", false},  // unknown identity: default grants no names
      {"gw-a", Ask::Advertise, "10.1.0.0/16", true},
      {"gw-a", Ask::Advertise, "10.1.5.0/24", true},  // inside
      {"gw-a", Ask::Advertise, "10.1.0.1/32", true},
      {"gw-a", Ask::Advertise, "10.0.0.0/8", false},  // wider than allowed
      {"gw-a", Ask::Advertise, "10.2.0.0/24", false},
      {"gw-a", Ask::Advertise, "192.168.10.0/24", true},  // from the repeated key
      {"gw-a", Ask::Advertise, "fd00:1:0:5::/64", true},
      {"gw-a", Ask::Advertise, "fd00:2::/64", false},
      {"gw-a", Ask::Advertise, "::/0", false},
      {"alice@example.com", Ask::Advertise, "10.1.0.0/24", false},
      {"gw-a", Ask::Reach, "office-b", true},
      {"gw-a", Ask::Reach, "hq", true},  // from [identity *]
      {"gw-a", Ask::Reach, "office-c", false},
      {"gw-b", Ask::Reach, "anything", true},  // "*"
      {"alice@example.com", Ask::Reach, "hq", true},
      {"alice@example.com", Ask::Reach, "office-a", false},
      {"stranger", Ask::Reach, "hq", true},  // default applies alone
      {"stranger", Ask::Reach, "office-a", false},
      {"GW-A", Ask::Register, "office-a", false},  // identities are exact
      {"", Ask::Reach, "office-b", false},
      {"carol", Ask::Nest, "10.1.0.200/32", true},
      {"carol", Ask::Nest, "10.1.9.128/25", true},  // inside a nest grant
      {"carol", Ask::Nest, "10.1.0.201/32", false},
      {"carol", Ask::Nest, "10.1.9.0/23", false},  // wider than the grant
      {"carol", Ask::Advertise, "10.1.0.200/32", true},
      {"gw-a", Ask::Nest, "10.1.0.200/32", false},  // advertise alone never nests
  };
  for (const auto& c : cases) {
    bool got = false;
    switch (c.ask) {
      case Ask::Register: got = p.may_register(c.identity, c.arg); break;
      case Ask::Advertise: got = p.may_advertise(c.identity, P(c.arg)); break;
      case Ask::Reach: got = p.may_reach(c.identity, c.arg); break;
      case Ask::Nest: got = p.may_nest(PeerIdentity{c.identity, {}}, P(c.arg)); break;
    }
    EXPECT_EQ(got, c.want) << c.identity << " " << static_cast<int>(c.ask) << " " << c.arg;
  }
}

TEST(Policy, EmptyPolicyDeniesEverything) {
  auto p = Policy::parse("# nothing\n\n", "empty");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->may_reach("gw-a", "hq"));
  EXPECT_FALSE(p->may_register("gw-a", "hq"));
  EXPECT_FALSE(p->may_advertise("gw-a", P("10.0.0.0/8")));
}

TEST(Policy, CrlfAndNoTrailingNewline) {
  auto p = Policy::parse("[identity gw-a]\r\nreach = hq\r\nregister = a", "crlf");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_TRUE(p->may_reach("gw-a", "hq"));
  EXPECT_TRUE(p->may_register("gw-a", "a"));
}

struct ErrorCase {
  const char* text;
  const char* where;
  const char* message;  // substring expected in the message
};

TEST(Policy, ErrorTable) {
  const ErrorCase cases[] = {
      {"[identity a]\nfoo = 1\n", "f:2", "unknown key 'foo'"},
      {"[identity a]\nadvertise = 10.1.0.1/24\n", "f:2", "bad prefix '10.1.0.1/24': host bits set"},
      {"[identity a]\nadvertise = 10.1.0.0/33\n", "f:2", "bad prefix '10.1.0.0/33': bad prefix length"},
      {"[identity a]\nadvertise = office\n", "f:2", "bad prefix 'office': not an IP address"},
      {"[identity a]\nnest = 10.1.0.1/24\n", "f:2", "bad prefix '10.1.0.1/24': host bits set"},
      {"[identity a]\nadvertise = 10.0.0.0/8,, 10.1.0.0/16\n", "f:2", "empty item in list for 'advertise'"},
      {"[identity a]\nregister =\n", "f:2", "empty value for 'register'"},
      {"[identity a]\nregister = Office\n", "f:2", "bad name 'Office'"},
      {"[identity a]\nregister = *\n", "f:2", "bad name '*'"},
      {"[identity a]\nreach = -x\n", "f:2", "bad name '-x'"},
      {"[identity a]\njust words\n", "f:2", "expected 'key = value'"},
      {"reach = hq\n", "f:1", "outside any [identity ...] section"},
      {"# c\n[team ops]\n", "f:2", "unknown section kind 'team'"},
      {"[group *]\n", "f:1", "[group *] is not a group"},
      {"[group]\n", "f:1", "bad group ''"},
      {"[user a]\nreach = x\n[identity a]\n", "f:3", "duplicate section [identity a]"},
      {"[identity *]\n[user *]\n", "f:2", "duplicate section [user *]"},
      {"[group eng]\n[group eng]\n", "f:2", "duplicate section [group eng]"},
      {"[group eng]\nallow = 10.2.0.0/24 tcp/99999\n", "f:2",
       "bad allow rule '10.2.0.0/24 tcp/99999': bad port range"},
      {"[user a]\nallow = 10.2.0.0/24, 10.3.0.1/24\n", "f:2", "bad allow rule '10.3.0.1/24': bad destination"},
      {"[user a]\n\nallow = 10.2.0.0/24 ssh\n", "f:3", "unknown protocol 'ssh'"},
      {"[user a]\nregister = *-x\n", "f:2", "'*' only as the last character"},
      {"[user a]\nregister = a**\n", "f:2", "'*' only as the last character"},
      {"[user a]\nregister = {user}-{user}\n", "f:2", "{user} at most once"},
      {"[user a]\nregister = {User}\n", "f:2", "bad name '{User}' in 'register'"},
      {"[user a]\nregister = {users}\n", "f:2", "bad name '{users}'"},
      {"[user a]\nregister = -{user}\n", "f:2", "bad name '-{user}'"},
      {"[user a]\nreach = {user}\n", "f:2", "bad name '{user}' in 'reach'"},
      {"[user a]\nreach = hq*\n", "f:2", "bad name 'hq*' in 'reach'"},
      {"[identity]\n", "f:1", "bad identity ''"},
      {"[identity a\n", "f:1", "missing ']'"},
      {"[identity a]\n\n[identity a]\n", "f:3", "duplicate section [identity a]"},
      {"[identity *]\n[identity *]\n", "f:2", "duplicate section [identity *]"},
      {"[identity a]\nregister = x # fine\nreach = y z\n", "f:3", "bad name 'y z'"},
      {"[group eng]\ndns = dns.office-a.lan\n", "f:2", "bad resolver 'dns.office-a.lan' in 'dns': not an IP address"},
      {"[group eng]\ndns = 127.0.0.53\n", "f:2", "bad resolver '127.0.0.53' in 'dns': not unicast"},
      {"[group eng]\ndns = fe80::1\n", "f:2", "bad resolver 'fe80::1'"},
      {"[group eng]\ndns = 10.1.0.53/32\n", "f:2", "bad resolver '10.1.0.53/32'"},
      {"[group eng]\ndns = 10.1.0.53,\n", "f:2", "empty item in list for 'dns'"},
      {"[group eng]\ndns-search = office-a.lan.\n", "f:2", "bad domain 'office-a.lan.' in 'dns-search'"},
      {"[group eng]\ndns-search = -x.lan\n", "f:2", "bad domain '-x.lan'"},
      {"[group eng]\ndns-search = a b.lan\n", "f:2", "bad domain 'a b.lan'"},
      {"[group eng]\ndns-search = 10.1.0.53\n", "f:2", "bad domain '10.1.0.53'"},
      {"[group eng]\ndns =\n", "f:2", "empty value for 'dns'"},
      {"dns = 10.1.0.53\n", "f:1", "key 'dns' outside any"},
      // One without the other: named at the first of them, found when the section ends.
      {"[group eng]\nreach = hq\ndns = 10.1.0.53\n\n[group ops]\n", "f:3", "dns without dns-search"},
      {"[group eng]\ndns-search = office-a.lan\n", "f:2", "dns-search without dns"},
      {"[group eng]\ndns = 10.1.0.1, 10.1.0.2, 10.1.0.3, 10.1.0.4\ndns = 10.1.0.5, 10.1.0.6, 10.1.0.7, 10.1.0.8\n"
       "dns = 10.1.0.9\n", "f:4", "more than 8 resolvers in 'dns'"},
      {"[group eng]\ndns = 10.1.0.53\ndns-search = a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, "
       "a15, a16, a17\n", "f:3", "more than 16 domains in 'dns-search'"},
  };
  for (const auto& c : cases) {
    auto p = Policy::parse(c.text, "f");
    ASSERT_FALSE(p) << c.text;
    EXPECT_EQ(p.error().where, c.where) << c.text;
    EXPECT_NE(p.error().message.find(c.message), std::string::npos)
        << c.text << " -> " << p.error().message;
    EXPECT_EQ(p.error().to_string(), std::string(c.where) + ": " + p.error().message);
  }
}

constexpr const char* kUserPolicy = R"(# HQ gateway, laptops with per-user rules.
[identity gw-hq]
register  = hq
advertise = 10.2.0.0/16, fd00:2::/48
reach     = *

[group eng]
register = laptop-{user}
reach    = hq
allow    = 10.2.0.0/24

[group ops]
register = ops-*
reach    = hq
nest     = 10.2.9.0/24
allow    = 10.3.0.0/24 tcp/22, fd00:2::/64 tcp/22
allow    = 10.3.0.53 udp/53

[user alice]                  # alice is also in eng on her certificate
register = {user}-laptop
allow    = 10.2.0.20 tcp/443

[identity *]
reach = dns
)";

PeerIdentity peer(const char* name, std::vector<std::string> groups = {}) { return {name, std::move(groups)}; }

PacketInfo to(const char* dst, uint8_t proto, uint16_t dport, bool fragment = false) {
  PacketInfo p;
  p.dst = *IpAddr::parse(dst);
  p.src = *IpAddr::parse(p.dst.family == Family::V4 ? "10.255.0.9" : "fd00:ff::9");
  p.protocol = proto;
  p.dst_port = fragment ? 0 : dport;
  p.fragment = fragment;
  return p;
}

struct PacketCase {
  const char* label;
  PeerIdentity who;
  PacketInfo pkt;
  bool want;
};

TEST(Policy, AllowRulesTable) {
  auto parsed = Policy::parse(kUserPolicy, "users.policy");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const Policy& p = *parsed;
  EXPECT_EQ(p.section_count(), 5u);
  const PacketCase cases[] = {
      {"user alice: her one service", peer("alice"), to("10.2.0.20", 6, 443), true},
      {"user alice: other port", peer("alice"), to("10.2.0.20", 6, 22), false},
      {"user alice: other host", peer("alice"), to("10.2.0.21", 6, 443), false},
      {"user alice: udp to that port", peer("alice"), to("10.2.0.20", 17, 443), false},
      {"user alice: ping", peer("alice"), to("10.2.0.20", 1, 0), false},
      {"group eng: whole /24", peer("bob", {"eng"}), to("10.2.0.77", 17, 5000), true},
      {"group eng: ping", peer("bob", {"eng"}), to("10.2.0.1", 1, 0), true},
      {"group eng: fragment", peer("bob", {"eng"}), to("10.2.0.1", 17, 0, true), true},
      {"group eng: outside the /24", peer("bob", {"eng"}), to("10.2.1.1", 6, 443), false},
      {"group eng: no IPv6 grant", peer("bob", {"eng"}), to("fd00:2::1", 6, 22), false},
      {"alice in eng: union", peer("alice", {"eng"}), to("10.2.0.5", 6, 80), true},
      {"alice in eng: still not beyond", peer("alice", {"eng"}), to("10.3.0.5", 6, 22), false},
      {"two groups: eng part", peer("carol", {"eng", "ops"}), to("10.2.0.5", 6, 80), true},
      {"two groups: ops ssh", peer("carol", {"eng", "ops"}), to("10.3.0.5", 6, 22), true},
      {"two groups: ops ssh v6", peer("carol", {"eng", "ops"}), to("fd00:2::5", 6, 22), true},
      {"two groups: ops dns", peer("carol", {"eng", "ops"}), to("10.3.0.53", 17, 53), true},
      {"two groups: ops http no", peer("carol", {"eng", "ops"}), to("10.3.0.5", 6, 80), false},
      {"ops: ssh fragment has no port", peer("olga", {"ops"}), to("10.3.0.5", 6, 0, true), false},
      {"ops: order of groups irrelevant", peer("carol", {"ops", "eng"}), to("10.2.0.5", 6, 80), true},
      {"site without allow rules", peer("gw-hq"), to("10.9.9.9", 6, 1), true},
      {"unknown group: reach only", peer("dave", {"sales"}), to("10.9.9.9", 6, 1), true},
      {"groups are exact", peer("erin", {"Eng"}), to("10.9.9.9", 6, 1), true},
      {"eng member via the string identity", peer("eng"), to("10.9.9.9", 6, 1), true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(p.allows_packet(c.who, c.pkt), c.want) << c.label;
    // Restricted exactly when alice's section or the eng/ops sections apply.
    bool restricted = c.who.name == "alice" || c.who.in_group("eng") || c.who.in_group("ops");
    EXPECT_EQ(p.has_allow_rules(c.who), restricted) << c.label;
  }
}

struct GrantCase {
  const char* label;
  PeerIdentity who;
  Ask ask;
  const char* arg;
  bool want;
};

TEST(Policy, DnsFirstSectionThatHasOneWins) {
  auto parsed = Policy::parse(R"(
[identity gw-hq]
register = hq

[group eng]
dns        = 10.1.0.53, fd00:1::53
dns        = 10.1.0.53            # a repeat adds nothing
dns-search = Office-A.lan, corp.example

[group sales]
dns        = 10.2.0.53
dns-search = office-b.lan

[user alice]
dns        = 10.9.0.53
dns-search = alice.lan

[identity *]
dns        = 192.0.2.53
dns-search = corp.example
)", "dns.policy");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const Policy& p = *parsed;
  auto A = [](const char* s) { return *IpAddr::parse(s); };
  const DnsConfig eng{{A("10.1.0.53"), A("fd00:1::53")}, {"office-a.lan", "corp.example"}};
  const DnsConfig sales{{A("10.2.0.53")}, {"office-b.lan"}};
  const DnsConfig fallback{{A("192.0.2.53")}, {"corp.example"}};
  EXPECT_EQ(p.dns_for(peer("bob", {"eng"})), eng) << "group; case folded; repeat dropped";
  EXPECT_EQ(p.dns_for(peer("bob", {"sales", "eng"})), sales) << "groups in certificate order";
  EXPECT_EQ(p.dns_for(peer("bob", {"eng", "sales"})), eng);
  EXPECT_EQ(p.dns_for(peer("alice", {"eng"})), (DnsConfig{{A("10.9.0.53")}, {"alice.lan"}})) << "own section first";
  EXPECT_EQ(p.dns_for(peer("gw-hq")), fallback) << "a section without dns falls through to the default";
  EXPECT_EQ(p.dns_for(peer("dave", {"unknown"})), fallback);

  auto none = Policy::parse("[identity gw-hq]\nregister = hq\n", "f");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->dns_for(peer("gw-hq")).empty());
}

TEST(Policy, UserAndGroupGrantsTable) {
  auto parsed = Policy::parse(kUserPolicy, "users.policy");
  ASSERT_TRUE(parsed) << parsed.error().to_string();
  const Policy& p = *parsed;
  const GrantCase cases[] = {
      {"{user} expands to the CN", peer("bob", {"eng"}), Ask::Register, "laptop-bob", true},
      {"not someone else's", peer("bob", {"eng"}), Ask::Register, "laptop-alice", false},
      {"no trailing glob", peer("bob", {"eng"}), Ask::Register, "laptop-bob2", false},
      {"group grant needs the group", peer("bob"), Ask::Register, "laptop-bob", false},
      {"user section, {user} in front", peer("alice"), Ask::Register, "alice-laptop", true},
      {"user section applies in groups too", peer("alice", {"eng"}), Ask::Register, "alice-laptop", true},
      {"and the group's own pattern", peer("alice", {"eng"}), Ask::Register, "laptop-alice", true},
      {"glob", peer("olga", {"ops"}), Ask::Register, "ops-olga-1", true},
      {"glob matches the bare prefix", peer("olga", {"ops"}), Ask::Register, "ops-", true},
      {"glob is a prefix match only", peer("olga", {"ops"}), Ask::Register, "xops-1", false},
      {"glob is not partial", peer("olga", {"ops"}), Ask::Register, "ops", false},
      {"site literal", peer("gw-hq"), Ask::Register, "hq", true},
      {"laptop cannot take hq", peer("olga", {"ops", "eng"}), Ask::Register, "hq", false},
      {"group reach", peer("bob", {"eng"}), Ask::Reach, "hq", true},
      {"default reach for members", peer("bob", {"eng"}), Ask::Reach, "dns", true},
      {"no group, default only", peer("dave", {"sales"}), Ask::Reach, "hq", false},
      {"default reach without groups", peer("dave"), Ask::Reach, "dns", true},
      {"site reach *", peer("gw-hq"), Ask::Reach, "laptop-bob", true},
      {"groups advertise nothing here", peer("carol", {"eng", "ops"}), Ask::Advertise, "10.2.0.0/24", false},
      {"site advertise", peer("gw-hq"), Ask::Advertise, "10.2.0.0/24", true},
      {"site advertise v6", peer("gw-hq"), Ask::Advertise, "fd00:2:0:1::/64", true},
      {"site advertise v6 outside", peer("gw-hq"), Ask::Advertise, "fd00:2:1::/64", false},
      {"group nest grant", peer("carol", {"ops"}), Ask::Nest, "10.2.9.7/32", true},
      {"group nest grant needs the group", peer("carol", {"eng"}), Ask::Nest, "10.2.9.7/32", false},
  };
  for (const auto& c : cases) {
    bool got = false;
    switch (c.ask) {
      case Ask::Register: got = p.may_register(c.who, c.arg); break;
      case Ask::Advertise: got = p.may_advertise(c.who, P(c.arg)); break;
      case Ask::Reach: got = p.may_reach(c.who, c.arg); break;
      case Ask::Nest: got = p.may_nest(c.who, P(c.arg)); break;
    }
    EXPECT_EQ(got, c.want) << c.label;
  }
  // The string overloads are a peer without groups.
  EXPECT_TRUE(p.may_register("alice", "alice-laptop"));
  EXPECT_FALSE(p.may_register("bob", "laptop-bob"));
  EXPECT_TRUE(p.may_reach("gw-hq", "anything"));
  EXPECT_FALSE(p.may_reach("bob", "hq"));
}

TEST(Policy, AllowInDefaultRestrictsEveryone) {
  auto p = Policy::parse("[identity gw]\nreach = *\n[user *]\nallow = 10.0.0.0/8\n", "d");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_TRUE(p->has_allow_rules(peer("gw")));
  EXPECT_TRUE(p->allows_packet(peer("gw"), to("10.1.2.3", 6, 80)));
  EXPECT_FALSE(p->allows_packet(peer("gw"), to("192.168.1.1", 6, 80)));
  EXPECT_FALSE(p->allows_packet(peer("anyone", {"x"}), to("fd00::1", 58, 0)));
}

TEST(Policy, UserIsASynonymForIdentity) {
  auto a = Policy::parse("[user alice]\nreach = hq\n", "u");
  auto b = Policy::parse("[identity alice]\nreach = hq\n", "i");
  ASSERT_TRUE(a && b);
  for (const Policy* p : {&*a, &*b}) {
    EXPECT_TRUE(p->may_reach("alice", "hq"));
    EXPECT_TRUE(p->may_reach(peer("alice", {"eng"}), "hq"));
    EXPECT_FALSE(p->may_reach("bob", "hq"));
    EXPECT_FALSE(p->has_allow_rules(peer("alice")));
  }
}

TEST(Policy, LoadReadsFileAndNamesItInErrors) {
  std::string path = ::testing::TempDir() + "/dialout_policy_test.policy";
  {
    std::ofstream out(path);
    out << "[identity gw-a]\nreach = hq\nbogus = 1\n";
  }
  auto bad = Policy::load(path);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().where, path + ":3");
  {
    std::ofstream out(path);
    out << "[identity gw-a]\nreach = hq\n";
  }
  auto good = Policy::load(path);
  ASSERT_TRUE(good) << good.error().to_string();
  EXPECT_TRUE(good->may_reach("gw-a", "hq"));
  std::remove(path.c_str());
  auto missing = Policy::load(path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().where, path);
}

TEST(Policy, ExampleFileInTreeParses) {
  // The seed corpus doubles as the documented example.
  auto p = Policy::load(std::string(DIALOUT_SOURCE_DIR) + "/fuzz/corpus/fuzz_policy/example.policy");
  ASSERT_TRUE(p) << p.error().to_string();
  EXPECT_TRUE(p->may_register("gw-a", "office-a"));
  auto users = Policy::load(std::string(DIALOUT_SOURCE_DIR) + "/fuzz/corpus/fuzz_policy/users.policy");
  ASSERT_TRUE(users) << users.error().to_string();
  EXPECT_TRUE(users->allows_packet(peer("alice"), to("10.2.0.20", 6, 443)));
  EXPECT_FALSE(users->allows_packet(peer("alice"), to("10.2.0.20", 6, 80)));
  EXPECT_TRUE(users->allows_packet(peer("olga", {"ops"}), to("10.3.0.9", 6, 8080)));
  auto dns = Policy::load(std::string(DIALOUT_SOURCE_DIR) + "/fuzz/corpus/fuzz_policy/dns.policy");
  ASSERT_TRUE(dns) << dns.error().to_string();
  EXPECT_EQ(dns->dns_for(peer("bob", {"eng"})).domains, (std::vector<std::string>{"office-a.lan", "corp.example"}));
  // The example operators copy from.
  auto shipped = Policy::load(std::string(DIALOUT_SOURCE_DIR) + "/docs/examples/policy.conf");
  ASSERT_TRUE(shipped) << shipped.error().to_string();
  EXPECT_EQ(shipped->dns_for(peer("bob", {"eng"})).domains, std::vector<std::string>{"office-a.lan"});
  EXPECT_TRUE(shipped->dns_for(peer("gw-a")).empty());
}

}  // namespace
}  // namespace dialout
