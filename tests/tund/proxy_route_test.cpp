#include "tund/proxy_route.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

namespace dialout {
namespace {

EnvironmentLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

CredentialsReader reader(std::string text) {
  return [text](const std::string&) -> Expected<std::string, std::string> { return text; };
}

ProxySetting server(std::string_view url) { return *parse_proxy_setting(url); }

ProxySetting from_env() {
  ProxySetting s;
  s.mode = ProxySetting::Mode::Environment;
  return s;
}

TEST(ProxyRoute, NoneIsDirect) {
  auto r = load_proxy_route({}, "", "relay.example.net", env_of({}));
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->route);
}

TEST(ProxyRoute, AServerWithCredentials) {
  auto r = load_proxy_route(server("http://proxy.lan:3128"), "/etc/creds", "relay.example.net", env_of({}),
                            reader("alice:s3 cret\n"));
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->route);
  EXPECT_EQ(r->route->server.to_string(), "http://proxy.lan:3128");
  ASSERT_TRUE(r->route->credentials);
  EXPECT_EQ(r->route->credentials->user, "alice");
  EXPECT_EQ(r->route->credentials->password, "s3 cret");
}

TEST(ProxyRoute, BadCredentialsNameTheFileNotTheSecret) {
  auto r = load_proxy_route(server("http://proxy.lan:3128"), "/etc/creds", "relay.example.net", env_of({}),
                            reader("no-colon-s3cret\n"));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("/etc/creds"), std::string::npos) << r.error();
  EXPECT_EQ(r.error().find("s3cret"), std::string::npos) << r.error();
}

TEST(ProxyRoute, EnvironmentHonoursNoProxy) {
  auto vars = env_of({{"https_proxy", "http://proxy.lan:3128"}, {"no_proxy", ".example.net"}});
  auto r = load_proxy_route(from_env(), "", "relay.example.net", vars);
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->route);
  EXPECT_NE(r->reason.find("no_proxy"), std::string::npos) << r->reason;
  auto other = load_proxy_route(from_env(), "", "relay.example.org", vars);
  ASSERT_TRUE(other) << other.error();
  ASSERT_TRUE(other->route);
  EXPECT_EQ(other->route->server.to_string(), "http://proxy.lan:3128");
}

TEST(ProxyRoute, Socks5WithANameNeedsRemoteResolution) {
  auto r = load_proxy_route(server("socks5://proxy.lan:1080"), "", "relay.example.net", env_of({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("socks5h://"), std::string::npos) << r.error();
  EXPECT_TRUE(load_proxy_route(server("socks5://proxy.lan:1080"), "", "192.0.2.1", env_of({})));
  EXPECT_TRUE(load_proxy_route(server("socks5h://proxy.lan:1080"), "", "relay.example.net", env_of({})));
}

TEST(ProxyRoute, TheFileMustNotBeWorldReadable) {
  char path[] = "/tmp/proxy_route_testXXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "u:p\n", 4), 4);
  ::close(fd);
  ::chmod(path, 0600);
  auto ok = read_proxy_credentials_file(path);
  EXPECT_TRUE(ok) << ok.error();
  if (ok) {
    EXPECT_EQ(*ok, "u:p\n");
  }
  ::chmod(path, 0644);
  EXPECT_FALSE(read_proxy_credentials_file(path));
  ::unlink(path);
}

}  // namespace
}  // namespace dialout
