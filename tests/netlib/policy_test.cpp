#include "netlib/policy.hpp"

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

  [identity *]   # everyone
reach = hq
)";

Prefix P(const char* s) { return *Prefix::parse(s); }

enum class Ask { Register, Advertise, Reach };

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
  EXPECT_EQ(p.section_count(), 4u);
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
  };
  for (const auto& c : cases) {
    bool got = false;
    switch (c.ask) {
      case Ask::Register: got = p.may_register(c.identity, c.arg); break;
      case Ask::Advertise: got = p.may_advertise(c.identity, P(c.arg)); break;
      case Ask::Reach: got = p.may_reach(c.identity, c.arg); break;
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
      {"[identity a]\nadvertise = 10.0.0.0/8,, 10.1.0.0/16\n", "f:2", "empty item in list for 'advertise'"},
      {"[identity a]\nregister =\n", "f:2", "empty value for 'register'"},
      {"[identity a]\nregister = Office\n", "f:2", "bad name 'Office'"},
      {"[identity a]\nregister = *\n", "f:2", "bad name '*'"},
      {"[identity a]\nreach = -x\n", "f:2", "bad name '-x'"},
      {"[identity a]\njust words\n", "f:2", "expected 'key = value'"},
      {"reach = hq\n", "f:1", "outside any [identity ...] section"},
      {"# c\n[group ops]\n", "f:2", "unknown section kind 'group'"},
      {"[identity]\n", "f:1", "bad identity ''"},
      {"[identity a\n", "f:1", "missing ']'"},
      {"[identity a]\n\n[identity a]\n", "f:3", "duplicate section [identity a]"},
      {"[identity *]\n[identity *]\n", "f:2", "duplicate section [identity *]"},
      {"[identity a]\nregister = x # fine\nreach = y z\n", "f:3", "bad name 'y z'"},
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
}

}  // namespace
}  // namespace dialout
