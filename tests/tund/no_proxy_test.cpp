#include "tund/no_proxy.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace dialout {
namespace {

struct Case {
  const char* list;
  const char* host;
  std::optional<std::string> entry;  // the entry that matches, or none
};

TEST(NoProxyTest, MatchesLikeCurl) {
  const std::vector<Case> cases = {
      {"*", "relay.example.net", "*"},
      {"*", "192.0.2.1", "*"},
      {"example.net", "example.net", "example.net"},
      {"example.net", "relay.example.net", "example.net"},
      {"example.net", "badexample.net", std::nullopt},
      {"example.net", "example.net.evil", std::nullopt},
      {".example.net", "example.net", ".example.net"},
      {".example.net", "a.b.example.net", ".example.net"},
      {"*.example.net", "relay.example.net", "*.example.net"},
      {"EXAMPLE.net.", "Relay.Example.NET.", "EXAMPLE.net."},
      {"localhost, ,  example.net ,", "relay.example.net", "example.net"},
      {"localhost,127.0.0.1", "relay.example.net", std::nullopt},
      {"10.0.0.0/8", "10.1.2.3", "10.0.0.0/8"},
      {"10.0.0.0/8", "11.0.0.1", std::nullopt},
      {"10.1.2.3/8", "10.200.0.1", "10.1.2.3/8"},  // host bits ignored, as curl does
      {"192.0.2.1", "192.0.2.1", "192.0.2.1"},
      {"192.0.2.1", "192.0.2.10", std::nullopt},
      {"192.0.2.1", "192.0.2.1.nip.io", std::nullopt},  // a name: compared with names only
      {"10.0.0.0/8", "ten.example.net", std::nullopt},  // nothing is resolved
      {"::1", "[::1]", "::1"},
      {"[fd00::1]", "fd00::1", "[fd00::1]"},
      {"fd00::/16", "fd00:1::5", "fd00::/16"},
      {"fd00::/16", "fe80::1", std::nullopt},
      {"0.0.0.0/0", "203.0.113.9", "0.0.0.0/0"},
      {"", "relay.example.net", std::nullopt},
  };
  for (const Case& c : cases) {
    auto list = NoProxyList::parse(c.list);
    ASSERT_TRUE(list) << c.list << ": " << list.error();
    EXPECT_EQ(list->match(c.host), c.entry) << c.list << " vs " << c.host;
  }
}

TEST(NoProxyTest, RefusesEntriesThatCouldNeverMatch) {
  struct Bad {
    const char* list;
    const char* why;
  };
  for (const Bad& b : std::vector<Bad>{{"10.0.0.0/33", "prefix length 33 is out of range"},
                                       {"fd00::/129", "out of range"},
                                       {"10.0.0.0/x", "'10.0.0.0/x': prefix length"},
                                       {"example.net/24", "is not an address/length"},
                                       {"<local>", "'<local>' is neither"},
                                       {"relay.example.net:443", "neither"},
                                       {"a..b", "neither"},
                                       {".", "neither"},
                                       {"**", "neither"}}) {
    auto list = NoProxyList::parse(b.list);
    ASSERT_FALSE(list) << b.list;
    EXPECT_NE(list.error().find(b.why), std::string::npos) << list.error();
  }
}

TEST(NoProxyTest, EntryCountIsBounded) {
  std::string many;
  for (int i = 0; i < 256; ++i) many += "h" + std::to_string(i) + ",";
  EXPECT_TRUE(NoProxyList::parse(many));
  EXPECT_FALSE(NoProxyList::parse(many + "one-more"));
}

}  // namespace
}  // namespace dialout
