#include "tund/proxy_settings.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace dialout {
namespace {

ProxyServer server(ProxyScheme scheme, std::string host, uint16_t port, bool remote) {
  return ProxyServer{scheme, Endpoint{std::move(host), port}, remote};
}

TEST(ProxySettingsTest, ParsesEachForm) {
  struct Good {
    const char* text;
    ProxySetting setting;
  };
  using M = ProxySetting::Mode;
  const std::vector<Good> goods = {
      {"none", {M::None, {}}},
      {"env", {M::Environment, {}}},
      {"http://proxy.corp:3128", {M::Server, server(ProxyScheme::Http, "proxy.corp", 3128, true)}},
      {"HTTP://proxy.corp:3128/", {M::Server, server(ProxyScheme::Http, "proxy.corp", 3128, true)}},
      {"socks5://10.0.0.1:1080", {M::Server, server(ProxyScheme::Socks5, "10.0.0.1", 1080, false)}},
      {"socks5h://[2001:db8::5]:1080", {M::Server, server(ProxyScheme::Socks5, "2001:db8::5", 1080, true)}},
  };
  for (const Good& g : goods) {
    auto s = parse_proxy_setting(g.text);
    ASSERT_TRUE(s) << g.text << ": " << s.error();
    EXPECT_EQ(*s, g.setting) << g.text;
  }
}

TEST(ProxySettingsTest, PrintsWhatItParsed) {
  EXPECT_EQ(server(ProxyScheme::Http, "proxy", 3128, true).to_string(), "http://proxy:3128");
  EXPECT_EQ(server(ProxyScheme::Socks5, "::1", 1080, false).to_string(), "socks5://[::1]:1080");
  EXPECT_EQ(server(ProxyScheme::Socks5, "proxy", 1080, true).to_string(), "socks5h://proxy:1080");
}

TEST(ProxySettingsTest, RefusesWithTheReason) {
  struct Bad {
    const char* text;
    const char* why;
  };
  const std::vector<Bad> bads = {
      {"", "is empty"},
      {"Env", "has no scheme"},
      {"proxy.corp:3128", "'proxy.corp:3128' has no scheme"},
      {"https://proxy.corp:443", "scheme 'https' is not supported"},
      {"socks4://proxy.corp:1080", "scheme 'socks4' is not supported"},
      {"http://proxy.corp", "has no port"},
      {"http://[2001:db8::5]", "has no port"},
      {"http://2001:db8::5:3128", "needs [brackets]"},
      {"http://proxy.corp:0", "port 0"},
      {"http://proxy.corp:65536", "port out of range"},
      {"http://proxy.corp:31x", "bad port"},
      {"http://proxy.corp:3128/path", "has a path"},
      {"http://proxy.corp:3128?x", "has a path"},
      {"http://pro xy:3128", "bad host name"},
      {"http://:3128", "bad host name"},
  };
  for (const Bad& b : bads) {
    auto s = parse_proxy_setting(b.text);
    ASSERT_FALSE(s) << b.text;
    EXPECT_NE(s.error().find(b.why), std::string::npos) << b.text << " -> " << s.error();
  }
}

TEST(ProxySettingsTest, CredentialsInTheUrlAreRefusedWithoutEchoingThem) {
  for (const char* text : {"http://alice:hunter2@proxy:3128", "socks5h://alice@proxy:1080", "hunter2@proxy:1"}) {
    auto s = parse_proxy_setting(text);
    ASSERT_FALSE(s) << text;
    EXPECT_NE(s.error().find("use proxy-credentials"), std::string::npos);
    EXPECT_EQ(s.error().find("hunter2"), std::string::npos) << s.error();
    EXPECT_EQ(s.error().find("alice"), std::string::npos) << s.error();
  }
}

struct EnvCase {
  const char* name;
  std::map<std::string, std::string> env;
  std::optional<std::string> proxy;  // to_string of the choice; nullopt: direct
  std::string reason_has;
};

TEST(ProxySettingsTest, EnvironmentPrecedenceAndNoProxy) {
  const std::vector<EnvCase> cases = {
      {"nothing set", {}, std::nullopt, "none of https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY is set"},
      {"https_proxy", {{"https_proxy", "http://a:1"}, {"HTTPS_PROXY", "http://b:2"}}, "http://a:1",
       "https_proxy=http://a:1"},
      {"HTTPS_PROXY", {{"HTTPS_PROXY", "http://b:2"}, {"all_proxy", "socks5h://c:3"}}, "http://b:2", "HTTPS_PROXY"},
      {"empty counts as unset", {{"https_proxy", ""}, {"all_proxy", "socks5h://c:3"}}, "socks5h://c:3", "all_proxy"},
      {"ALL_PROXY last", {{"ALL_PROXY", "socks5://[::1]:4"}}, "socks5://[::1]:4", "ALL_PROXY"},
      {"http_proxy is not ours", {{"http_proxy", "http://a:1"}, {"HTTP_PROXY", "http://a:1"}}, std::nullopt,
       "none of"},
      {"scheme-less means http", {{"https_proxy", "proxy.corp:3128/"}}, "http://proxy.corp:3128", ""},
      {"no_proxy matches", {{"https_proxy", "http://a:1"}, {"no_proxy", "localhost,.example.net"}}, std::nullopt,
       "no_proxy entry '.example.net' matches 'relay.example.net'"},
      {"NO_PROXY when no_proxy unset", {{"https_proxy", "http://a:1"}, {"NO_PROXY", "*"}}, std::nullopt,
       "NO_PROXY entry '*'"},
      {"no_proxy wins over NO_PROXY", {{"https_proxy", "http://a:1"}, {"no_proxy", "other.net"}, {"NO_PROXY", "*"}},
       "http://a:1", ""},
      {"no_proxy not matching", {{"https_proxy", "http://a:1"}, {"no_proxy", "example.org"}}, "http://a:1", ""},
  };
  for (const EnvCase& c : cases) {
    auto lookup = [&](std::string_view name) -> std::optional<std::string> {
      auto it = c.env.find(std::string(name));
      if (it == c.env.end()) return std::nullopt;
      return it->second;
    };
    auto choice = proxy_from_environment(lookup, "relay.example.net");
    ASSERT_TRUE(choice) << c.name << ": " << choice.error();
    EXPECT_EQ(choice->server ? std::optional<std::string>(choice->server->to_string()) : std::nullopt, c.proxy) << c.name;
    EXPECT_NE(choice->reason.find(c.reason_has), std::string::npos) << c.name << ": " << choice->reason;
  }
}

TEST(ProxySettingsTest, EnvironmentErrorsNameTheVariable) {
  struct Bad {
    std::map<std::string, std::string> env;
    const char* why;
  };
  for (const Bad& b : std::vector<Bad>{
           {{{"https_proxy", "ftp://a:1"}}, "https_proxy: 'ftp://a:1': scheme 'ftp'"},
           {{{"ALL_PROXY", "http://a"}}, "ALL_PROXY: 'http://a' has no port"},
           {{{"https_proxy", "http://a:1"}, {"NO_PROXY", "10.0.0.0/99"}}, "NO_PROXY: '10.0.0.0/99': prefix length"},
           {{{"https_proxy", "http://u:topsecret@a:1"}}, "https_proxy: a user name or password"},
       }) {
    auto lookup = [&](std::string_view name) -> std::optional<std::string> {
      auto it = b.env.find(std::string(name));
      return it == b.env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto choice = proxy_from_environment(lookup, "relay.example.net");
    ASSERT_FALSE(choice) << b.why;
    EXPECT_NE(choice.error().find(b.why), std::string::npos) << choice.error();
    EXPECT_EQ(choice.error().find("topsecret"), std::string::npos);
  }
}

}  // namespace
}  // namespace dialout
