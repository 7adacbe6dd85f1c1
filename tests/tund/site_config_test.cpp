#include "tund/site_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace dialout {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A temp dir holding readable cert/key/ca files and the config file under test.
class SiteConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "site_config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (const char* f : {"site.crt", "site.key", "ca.crt"}) std::ofstream(dir_ / f) << "pem\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const char* f) const { return (dir_ / f).string(); }
  std::string write_config(const std::string& text) const {
    std::ofstream(dir_ / "site-a.conf") << text;
    return path("site-a.conf");
  }
  // The certificate flags every good command line needs.
  std::vector<std::string> base() const {
    return {"--name", "office-a", "--intermediary", "relay.example.net", "--cert", path("site.crt"),
            "--key", path("site.key"), "--ca", path("ca.crt")};
  }
  static SiteConfigResult run(std::vector<std::string> args,
                              const ConfigEnvironment& env = system_environment()) {
    args.insert(args.begin(), "tund");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_site_config(static_cast<int>(argv.size()), argv.data(), env);
  }
  static std::vector<std::string> plus(std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  fs::path dir_;
};

TEST_F(SiteConfigTest, MinimalCommandLineGetsDefaults) {
  auto r = run(base());
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.text, "");
  const SiteConfig& c = *r.config;
  EXPECT_EQ(c.name, "office-a");
  EXPECT_EQ(c.intermediary.host, "relay.example.net");
  EXPECT_EQ(c.intermediary.port, 443);
  EXPECT_EQ(c.server_name, "relay.example.net");
  EXPECT_EQ(c.tls.cert, path("site.crt"));
  EXPECT_EQ(c.tls.key, path("site.key"));
  EXPECT_EQ(c.tls.ca, path("ca.crt"));
  EXPECT_EQ(c.tls.crl, "");
  EXPECT_EQ(c.tun_name, "dl0");
  EXPECT_TRUE(c.tun_addresses.empty());
  EXPECT_EQ(c.mtu, 1500u);
  EXPECT_TRUE(c.advertise.empty());
  EXPECT_TRUE(c.static_routes.empty());
  EXPECT_TRUE(c.router_role);
  EXPECT_TRUE(c.proxy_role);
  EXPECT_EQ(c.connections, 0u);
  EXPECT_EQ(c.queues, 0u);  // auto
  EXPECT_TRUE(c.offload);
  EXPECT_FALSE(c.request_address);
  EXPECT_TRUE(c.proxy_arp);
  EXPECT_FALSE(c.masquerade);
  EXPECT_EQ(c.keepalive, milliseconds(5000));
  EXPECT_EQ(c.dead_after, milliseconds(15000));
  EXPECT_EQ(c.reconnect_min, milliseconds(200));
  EXPECT_EQ(c.reconnect_max, milliseconds(10000));
  EXPECT_EQ(c.restart_hint_max, milliseconds(60000));
  EXPECT_EQ(c.restart_window_max, milliseconds(300000));
  EXPECT_EQ(c.status_file, "");
  EXPECT_EQ(c.log_level, LogLevel::Info);
  EXPECT_EQ(c.max_learned_routes, 1024u);
  EXPECT_EQ(c.learned_route_hold, milliseconds(600000));
  EXPECT_TRUE(c.allow_learned_routes.empty());
  EXPECT_EQ(c.user, "");
  EXPECT_EQ(c.nft_path, "/usr/sbin/nft");
}

TEST_F(SiteConfigTest, EveryFlagIsApplied) {
  auto r = run(plus(base(), {"--intermediary=[2001:db8::1]:8443", "--server-name", "relay",
                             "--tun", "site0", "--tun-address", "10.255.1.1/24", "--tun-address",
                             "fd00:ff::1", "--mtu", "1400", "--advertise", "10.1.0.0/24",
                             "--advertise", "fd00:1::/64", "--static-route", "10.9.0.0/16=office-c",
                             "--roles", "proxy", "--connections", "8", "--offload", "off",
                             "--keepalive-ms", "1000", "--dead-after-ms", "3000",
                             "--reconnect-min-ms", "50", "--reconnect-max-ms", "50",
                             "--status-file", "/run/x/status", "--log-level", "debug"}));
  // --intermediary twice on the command line is refused, so rebuild without base's.
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.text.find("--intermediary: given more than once"), std::string::npos) << r.text;

  std::vector<std::string> args = base();
  args[3] = "[2001:db8::1]:8443";
  r = run(plus(args, {"--server-name", "relay", "--tun", "site0", "--tun-address", "10.255.1.1/24",
                      "--tun-address", "fd00:ff::1", "--mtu", "1400", "--advertise", "10.1.0.0/24",
                      "--advertise", "fd00:1::/64", "--static-route", "10.9.0.0/16=office-c",
                      "--roles", "proxy", "--connections", "8", "--offload", "off",
                      "--keepalive-ms", "1000", "--dead-after-ms", "3000", "--reconnect-min-ms",
                      "50", "--reconnect-max-ms", "50", "--status-file", "/run/x/status",
                      "--log-level", "debug"}));
  ASSERT_TRUE(r.config) << r.text;
  const SiteConfig& c = *r.config;
  EXPECT_EQ(c.intermediary.host, "2001:db8::1");
  EXPECT_EQ(c.intermediary.port, 8443);
  EXPECT_EQ(c.server_name, "relay");
  EXPECT_EQ(c.tun_name, "site0");
  ASSERT_EQ(c.tun_addresses.size(), 2u);
  // Host bits are kept: this is the interface's own address.
  EXPECT_EQ(c.tun_addresses[0].addr, *IpAddr::parse("10.255.1.1"));
  EXPECT_EQ(c.tun_addresses[0].len, 24);
  EXPECT_EQ(c.tun_addresses[1].addr, *IpAddr::parse("fd00:ff::1"));
  EXPECT_EQ(c.tun_addresses[1].len, 128);
  EXPECT_EQ(c.mtu, 1400u);
  EXPECT_EQ(c.advertise,
            (std::vector<Prefix>{*Prefix::parse("10.1.0.0/24"), *Prefix::parse("fd00:1::/64")}));
  EXPECT_EQ(c.static_routes,
            (std::vector<StaticRoute>{{*Prefix::parse("10.9.0.0/16"), "office-c"}}));
  EXPECT_FALSE(c.router_role);
  EXPECT_TRUE(c.proxy_role);
  EXPECT_EQ(c.connections, 8u);
  EXPECT_FALSE(c.offload);
  EXPECT_EQ(c.keepalive, milliseconds(1000));
  EXPECT_EQ(c.dead_after, milliseconds(3000));
  EXPECT_EQ(c.reconnect_min, milliseconds(50));
  EXPECT_EQ(c.reconnect_max, milliseconds(50));
  EXPECT_EQ(c.status_file, "/run/x/status");
  EXPECT_EQ(c.log_level, LogLevel::Debug);
}

TEST_F(SiteConfigTest, LaptopProxyArpAndMasqueradeSwitches) {
  struct Case {
    std::vector<std::string> flags;
    std::string file;
    bool request_address, proxy_arp, masquerade;
  };
  const Case cases[] = {
      {{"--request-address", "on"}, "", true, true, false},
      {{"--request-address", "off", "--proxy-arp", "off"}, "", false, false, false},
      {{"--masquerade", "on", "--roles", "proxy"}, "", false, true, true},
      {{}, "request-address = on\nmasquerade = on\nproxy-arp = off\n", true, false, true},
      {{"--masquerade", "off"}, "masquerade = on\n", false, true, false},  // the flag wins
  };
  for (const auto& c : cases) {
    auto args = plus(base(), c.flags);
    if (!c.file.empty()) args = plus(args, {"--config", write_config(c.file)});
    auto r = run(args);
    ASSERT_TRUE(r.config) << c.file << r.text;
    EXPECT_EQ(r.config->request_address, c.request_address) << c.file;
    EXPECT_EQ(r.config->proxy_arp, c.proxy_arp) << c.file;
    EXPECT_EQ(r.config->masquerade, c.masquerade) << c.file;
  }
}

TEST_F(SiteConfigTest, LearnedRoutesAndPrivilegeKeysByFlagAndFile) {
  auto r = run(plus(base(), {"--max-learned-routes", "16", "--learned-route-hold-ms", "0", "--allow-learned-route",
                             "0.0.0.0/0", "--allow-learned-route", "fd00::/8", "--user", "dialout", "--nft-path",
                             "/sbin/nft"}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->max_learned_routes, 16u);
  EXPECT_EQ(r.config->learned_route_hold, milliseconds(0));
  EXPECT_EQ(r.config->allow_learned_routes,
            (std::vector<Prefix>{*Prefix::parse("0.0.0.0/0"), *Prefix::parse("fd00::/8")}));
  EXPECT_EQ(r.config->user, "dialout");
  EXPECT_EQ(r.config->nft_path, "/sbin/nft");

  std::string conf = write_config(
      "max-learned-routes = 65536\n"
      "learned-route-hold-ms = 86400000\n"
      "allow-learned-route = 192.168.0.0/16\n"
      "user = nobody\n"
      "nft-path = /usr/local/sbin/nft\n");
  r = run(plus(base(), {"--config", conf}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->max_learned_routes, 65536u);
  EXPECT_EQ(r.config->learned_route_hold, milliseconds(86400000));
  EXPECT_EQ(r.config->allow_learned_routes, std::vector<Prefix>{*Prefix::parse("192.168.0.0/16")});
  EXPECT_EQ(r.config->user, "nobody");
  EXPECT_EQ(r.config->nft_path, "/usr/local/sbin/nft");
}

TEST_F(SiteConfigTest, DnsKeysByFlagAndFile) {
  auto r = run(base());
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->dns, DnsMode::Auto);
  EXPECT_EQ(r.config->dns_hook, "");
  std::string hook = path("site.key");  // any readable file stands for the program
  r = run(plus(base(), {"--dns", "hook", "--dns-hook", hook}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->dns, DnsMode::Hook);
  EXPECT_EQ(r.config->dns_hook, hook);
  for (auto [text, mode] : {std::pair{"auto", DnsMode::Auto}, {"resolvectl", DnsMode::Resolvectl},
                            {"off", DnsMode::Off}}) {
    r = run(plus(base(), {"--dns", text}));
    ASSERT_TRUE(r.config) << r.text;
    EXPECT_EQ(r.config->dns, mode) << text;
  }
  std::string conf = write_config("dns = auto\ndns-hook = " + hook + "\n");
  r = run(plus(base(), {"--config", conf}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->dns, DnsMode::Auto);
  EXPECT_EQ(r.config->dns_hook, hook);
  // The file's key, the location named.
  conf = write_config("# split DNS\ndns = dnsmasq\n");
  r = run(plus(base(), {"--config", conf}));
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.text.find("site-a.conf:2: dns: unknown mode 'dnsmasq'"), std::string::npos) << r.text;
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--dns", "hook"}, {"--dns-hook", "relative/hook"}, {"--dns", "off", "--dns-hook", hook},
           {"--dns", "resolvectl", "--dns-hook", hook}, {"--dns-hook", path("missing")}}) {
    r = run(plus(base(), bad));
    EXPECT_FALSE(r.config) << bad.back();
    EXPECT_EQ(r.exit_code, 64);
  }
  r = run(plus(base(), {"--dns", "hook"}));
  EXPECT_NE(r.text.find("--dns: needs dns-hook"), std::string::npos) << r.text;
  r = run(plus(base(), {"--dns", "off", "--dns-hook", hook}));
  EXPECT_NE(r.text.find("--dns-hook: has no effect with dns = off"), std::string::npos) << r.text;
  r = run(plus(base(), {"--dns-hook", "relative/hook"}));
  EXPECT_NE(r.text.find("'relative/hook' is not an absolute path"), std::string::npos) << r.text;
}

TEST_F(SiteConfigTest, RolesAndConnectionsSpellings) {
  struct Case {
    std::vector<std::string> flags;
    bool router, proxy;
    unsigned connections;
  };
  const Case cases[] = {
      {{"--roles", "router"}, true, false, 0},
      {{"--roles", "proxy,router"}, true, true, 0},
      {{"--roles", "router, proxy"}, true, true, 0},
      {{"--connections", "auto"}, true, true, 0},
      {{"--connections", "0"}, true, true, 0},
      {{"--connections", "1"}, true, true, 1},
      {{"--connections", "64"}, true, true, 64},
  };
  for (const auto& c : cases) {
    auto r = run(plus(base(), c.flags));
    ASSERT_TRUE(r.config) << c.flags[1] << ": " << r.text;
    EXPECT_EQ(r.config->router_role, c.router) << c.flags[1];
    EXPECT_EQ(r.config->proxy_role, c.proxy) << c.flags[1];
    EXPECT_EQ(r.config->connections, c.connections) << c.flags[1];
  }
  for (auto [text, queues] : {std::pair{"auto", 0u}, {"0", 0u}, {"1", 1u}, {"16", 16u}})
    EXPECT_EQ(run(plus(base(), {"--queues", text})).config->queues, queues) << text;
}

TEST_F(SiteConfigTest, AdvertiseAsTranslatesTheLanToTheRegisteredPrefix) {
  std::string conf = write_config("name = office-a\nintermediary = relay.example.net\ncert = " + path("site.crt") +
                                  "\nkey = " + path("site.key") + "\nca = " + path("ca.crt") +
                                  "\nadvertise = 192.168.1.0/24   as   10.101.0.0/24\n"
                                  "advertise = fd00:1::/64 as fd00:101::/64\nadvertise = 10.9.0.0/24\n");
  auto r = run({"--config", conf});
  ASSERT_TRUE(r.config) << r.text;
  // advertise holds what is registered; translations the pairs.
  EXPECT_EQ(r.config->advertise,
            (std::vector<Prefix>{*Prefix::parse("10.101.0.0/24"), *Prefix::parse("fd00:101::/64"),
                                 *Prefix::parse("10.9.0.0/24")}));
  EXPECT_EQ(r.config->translations,
            (std::vector<PrefixMapping>{{*Prefix::parse("192.168.1.0/24"), *Prefix::parse("10.101.0.0/24")},
                                        {*Prefix::parse("fd00:1::/64"), *Prefix::parse("fd00:101::/64")}}));
  // The same by flag; an inside range equal to another site's is fine here
  // (that is the point), only this site's own entries must not overlap.
  r = run({"--config", conf, "--advertise", "192.168.1.0/24 as 10.102.0.0/24"});
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->advertise, std::vector<Prefix>{*Prefix::parse("10.102.0.0/24")});
  ASSERT_EQ(r.config->translations.size(), 1u);
  EXPECT_EQ(r.config->translations[0].inside, *Prefix::parse("192.168.1.0/24"));
}

TEST_F(SiteConfigTest, ConfigFileWithFlagOverride) {
  std::string conf = write_config(
      "# office A\n"
      "name = office-a\n"
      "intermediary = relay.example.net:8443   # comment after a value\n"
      "cert = " + path("site.crt") + "\n"
      "key = " + path("site.key") + "\n"
      "ca = " + path("ca.crt") + "\n"
      "\n"
      "mtu = 1400\r\n"
      "advertise = 10.1.0.0/24\n"
      "advertise = 10.5.0.0/24\n"
      "static-route = 10.9.0.0/16=office-c\n"
      "log-level = warn\n");
  auto r = run({"--config", conf, "--mtu", "1300", "--advertise", "10.7.0.0/24"});
  ASSERT_TRUE(r.config) << r.text;
  const SiteConfig& c = *r.config;
  EXPECT_EQ(c.name, "office-a");
  EXPECT_EQ(c.intermediary.port, 8443);
  EXPECT_EQ(c.mtu, 1300u);  // the flag wins
  // Flags for a repeatable key replace the file's list rather than add to it.
  EXPECT_EQ(c.advertise, std::vector<Prefix>{*Prefix::parse("10.7.0.0/24")});
  EXPECT_EQ(c.static_routes.size(), 1u);  // file-only keys still apply
  EXPECT_EQ(c.log_level, LogLevel::Warn);

  r = run({"--config", conf});
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->mtu, 1400u);
  EXPECT_EQ(r.config->advertise.size(), 2u);
}

struct BadCase {
  std::vector<std::string> flags;  // added to the good base command line
  std::string file;                // when non-empty: written and passed with --config
  std::string message;             // must appear in the refusal
};

TEST_F(SiteConfigTest, BadValuesAreRefusedNamingTheKey) {
  const BadCase cases[] = {
      {{"--mtu", "70000"}, "", "tund: --mtu: 70000 is out of range (576..65535)"},
      {{"--mtu", "575"}, "", "tund: --mtu: 575 is out of range (576..65535)"},
      {{"--mtu", "1500x"}, "", "tund: --mtu: '1500x' is not a number"},
      {{"--mtu", "-1"}, "", "tund: --mtu: '-1' is not a number"},
      {{"--mtu", "99999999999999999999999"}, "", "--mtu: '99999999999999999999999' is out of range"},
      {{}, "mtu = 70000\n", "site-a.conf:1: mtu: 70000 is out of range (576..65535)"},
      {{}, "# x\nadvertise = 10.1.0.1/24\n", "site-a.conf:2: advertise: '10.1.0.1/24' has host bits set (did you mean 10.1.0.0/24?)"},
      {{"--name", "Office-A"}, "", "--name: given more than once"},
      {{"--advertise", "10.1.0.0/33"}, "", "--advertise: '10.1.0.0/33' is not a prefix"},
      {{"--advertise", "10.0.0.0/8", "--advertise", "10.1.0.0/24"}, "", "--advertise: '10.1.0.0/24' overlaps 10.0.0.0/8"},
      {{"--advertise", "fd00::/64", "--advertise", "fd00::/64"}, "", "--advertise: 'fd00::/64' overlaps fd00::/64"},
      {{}, "advertise = 10.1.0.0/24\nadvertise = 10.1.0.128/25\n", "site-a.conf:2: advertise: '10.1.0.128/25' overlaps 10.1.0.0/24"},
      {{"--advertise", "192.168.1.0/24 as 10.101.0.0/16"}, "", "--advertise: '192.168.1.0/24 as 10.101.0.0/16': /24 and /16 differ"},
      {{"--advertise", "192.168.1.0/24 as fd00:100::/24"}, "", "--advertise: '192.168.1.0/24 as fd00:100::/24': 192.168.1.0/24 is IPv4 but fd00:100::/24 is IPv6"},
      {{"--advertise", "192.168.1.0/24 as 192.168.1.0/24"}, "", "translates the prefix to itself"},
      {{"--advertise", "192.168.1.0/24 as 10.101.0.1/24"}, "", "--advertise: '10.101.0.1/24' has host bits set"},
      {{"--advertise", "192.168.1.0/24 as"}, "", "--advertise: '192.168.1.0/24 as' is not a prefix"},
      {{"--advertise", "192.168.1.0/24 as 10.101.0.0/24", "--advertise", "10.101.0.128/25"}, "", "--advertise: '10.101.0.128/25' overlaps 10.101.0.0/24"},
      {{}, "advertise = 192.168.1.0/24 as 10.101.0.0/24\nadvertise = 192.168.1.0/25 as 10.102.0.0/25\n", "site-a.conf:2: advertise: '192.168.1.0/25 as 10.102.0.0/25': LAN range 192.168.1.0/25 overlaps 192.168.1.0/24"},
      {{"--advertise", "192.168.1.0/24 as 10.101.0.0/24", "--advertise", "192.168.0.0/16"}, "", "LAN range 192.168.0.0/16 overlaps 192.168.1.0/24"},
      {{"--advertise", "10.5.0.0/24", "--advertise", "10.101.0.0/24 as 10.5.1.0/24", "--advertise", "10.5.0.0/16 as 10.6.0.0/16"}, "", "LAN range 10.5.0.0/16 overlaps 10.5.0.0/24"},
      {{"--advertise", "10.5.0.0/24", "--advertise", "10.7.0.0/16 as 10.5.0.0/16"}, "", "--advertise: '10.7.0.0/16 as 10.5.0.0/16' overlaps 10.5.0.0/24"},
      {{"--advertise", "192.168.1.0/24 as 10.101.0.0/24", "--advertise", "10.101.0.0/24 as 10.102.0.0/24"}, "", "a translated LAN range and an advertised prefix overlap (10.101.0.0/24 / 10.101.0.0/24)"},
      {{"--server-name", ""}, "", "tund: --server-name: is empty"},
      {{"--tun", "a-very-long-ifname"}, "", "tund: --tun: 'a-very-long-ifname' is longer than 15 characters"},
      {{"--tun", "dl/0"}, "", "tund: --tun: 'dl/0' is not a valid interface name"},
      {{"--tun", ""}, "", "tund: --tun: interface name is empty"},
      {{"--tun-address", "10.255.1.1/33"}, "", "tund: --tun-address: '10.255.1.1/33' is not an address"},
      {{"--tun-address", "10.255.1.1/24", "--tun-address", "10.255.1.1/32"}, "", "--tun-address: '10.255.1.1/32': address given twice"},
      {{"--static-route", "10.2.0.0/24"}, "", "tund: --static-route: '10.2.0.0/24' is not PREFIX=NAME"},
      {{"--static-route", "10.2.0.0/24=Office B"}, "", "--static-route: 'Office B' is not a valid site name"},
      {{"--static-route", "10.2.0.1/24=office-b"}, "", "--static-route: '10.2.0.1/24' has host bits set"},
      {{"--static-route", "10.2.0.0/24=office-a"}, "", "--static-route: '10.2.0.0/24=office-a' routes to this site itself"},
      {{"--static-route", "10.2.0.0/24=b", "--static-route", "10.2.0.0/24=c"}, "", "--static-route: prefix 10.2.0.0/24 is given twice"},
      {{"--roles", "router,gateway"}, "", "tund: --roles: unknown role 'gateway'"},
      {{"--roles", ""}, "", "tund: --roles: unknown role ''"},
      {{"--connections", "65"}, "", "tund: --connections: 65 is out of range (1..64), or auto"},
      {{"--connections", "many"}, "", "tund: --connections: 'many' is not a number, or auto"},
      {{"--queues", "17"}, "", "tund: --queues: 17 is out of range (1..16), or auto"},
      {{"--offload", "yes"}, "", "tund: --offload: 'yes' is neither 'on' nor 'off'"},
      {{"--request-address", "1"}, "", "tund: --request-address: '1' is neither 'on' nor 'off'"},
      {{"--proxy-arp", "true"}, "", "tund: --proxy-arp: 'true' is neither 'on' nor 'off'"},
      {{"--masquerade", "yes"}, "", "tund: --masquerade: 'yes' is neither 'on' nor 'off'"},
      {{"--roles", "router", "--request-address", "on"}, "", "tund: --request-address: request-address needs the proxy role"},
      {{"--roles", "router", "--masquerade", "on"}, "", "tund: --masquerade: masquerade needs the proxy role"},
      {{"--keepalive-ms", "99"}, "", "tund: --keepalive-ms: 99 is out of range (100..3600000)"},
      {{"--dead-after-ms", "5000"}, "", "tund: --dead-after-ms: dead-after-ms (5000) must be greater than keepalive-ms (5000)"},
      {{"--keepalive-ms", "20000"}, "", "tund: --keepalive-ms: dead-after-ms (15000) must be greater than keepalive-ms (20000)"},
      {{}, "keepalive-ms = 20000\n", "site-a.conf:1: keepalive-ms: dead-after-ms (15000)"},
      {{"--reconnect-min-ms", "9"}, "", "tund: --reconnect-min-ms: 9 is out of range (10..3600000)"},
      {{"--reconnect-max-ms", "100"}, "", "tund: --reconnect-max-ms: reconnect-max-ms (100) must not be below reconnect-min-ms (200)"},
      {{"--restart-window-max-ms", "600001"}, "", "tund: --restart-window-max-ms: 600001 is out of range (0..600000)"},
      {{}, "restart-hint-max-ms = soon\n", "site-a.conf:1: restart-hint-max-ms: 'soon' is not a number"},
      {{"--log-level", "verbose"}, "", "tund: --log-level: 'verbose' is not a log level"},
      {{"--max-learned-routes", "0"}, "", "tund: --max-learned-routes: 0 is out of range (1..65536)"},
      {{"--max-learned-routes", "65537"}, "", "tund: --max-learned-routes: 65537 is out of range (1..65536)"},
      {{}, "max-learned-routes = lots\n", "site-a.conf:1: max-learned-routes: 'lots' is not a number"},
      {{"--learned-route-hold-ms", "86400001"}, "", "tund: --learned-route-hold-ms: 86400001 is out of range (0..86400000)"},
      {{"--allow-learned-route", "10.0.0.1/8"}, "", "tund: --allow-learned-route: '10.0.0.1/8' has host bits set"},
      {{"--allow-learned-route", "::/0", "--allow-learned-route", "::/0"}, "", "tund: --allow-learned-route: prefix ::/0 is given twice"},
      {{}, "allow-learned-route = default\n", "site-a.conf:1: allow-learned-route: 'default' is not a prefix"},
      {{"--user", ""}, "", "tund: --user: is empty"},
      {{"--nft-path", "nft"}, "", "tund: --nft-path: 'nft' is not an absolute path (e.g. /usr/sbin/nft)"},
      {{"--nft-path", ""}, "", "tund: --nft-path: '' is not an absolute path"},
      {{}, "nft-path = sbin/nft\n", "site-a.conf:1: nft-path: 'sbin/nft' is not an absolute path"},
      {{"--mtu", "1400", "--mtu=1300"}, "", "tund: --mtu: given more than once"},
      {{"--bogus", "1"}, "", "tund: unknown option '--bogus'"},
      {{"--conn", "2"}, "", "tund: unknown option '--conn'"},  // no abbreviations
      {{"stray"}, "", "tund: unexpected argument"},
      {{"--mtu"}, "", "'--mtu' is missing"},
      {{}, "bogus = 1\n", "site-a.conf:1: unknown key 'bogus'"},
      {{}, "config = other.conf\n", "site-a.conf:1: unknown key 'config' (--config works on the command line only)"},
      {{}, "mtu = 1400\n\nmtu = 1500\n", "site-a.conf:3: mtu: set twice (first on line 1)"},
      {{}, "mtu 1400\n", "site-a.conf:1: expected 'key = value', got 'mtu 1400'"},
      {{}, "= 1400\n", "site-a.conf:1: expected 'key = value'"},
      {{}, "[tund]\nmtu = 1400\n", "site-a.conf:1: sections such as '[tund]' are not used"},
      {{}, "offload = o\x01n\n", "site-a.conf:1: offload: 'o\\x01n' is neither"},
  };
  for (const auto& c : cases) {
    auto args = plus(base(), c.flags);
    if (!c.file.empty()) args = plus(args, {"--config", write_config(c.file)});
    auto r = run(args);
    EXPECT_FALSE(r.config) << c.message;
    EXPECT_EQ(r.exit_code, 64) << c.message;
    EXPECT_NE(r.text.find(c.message), std::string::npos)
        << "expected: " << c.message << "\n     got: " << r.text;
    // One line, printed as is by the daemon.
    EXPECT_EQ(r.text.find('\n'), r.text.size() - 1) << r.text;
  }
}

TEST_F(SiteConfigTest, MissingAndUnreadableRequiredSettings) {
  struct Case {
    std::string drop;  // flag removed from the base command line
    std::string message;
  };
  const Case missing[] = {
      {"--name", "tund: --name: missing (required: --name or 'name = ...' in the config file)"},
      {"--intermediary", "tund: --intermediary: missing"},
      {"--cert", "tund: --cert: missing"},
      {"--key", "tund: --key: missing"},
      {"--ca", "tund: --ca: missing"},
  };
  for (const auto& c : missing) {
    auto args = base();
    auto it = std::find(args.begin(), args.end(), c.drop);
    ASSERT_NE(it, args.end());
    args.erase(it, it + 2);
    auto r = run(args);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(r.exit_code, 64);
    EXPECT_NE(r.text.find(c.message), std::string::npos) << r.text;
  }

  auto args = base();
  args[7] = path("nope.key");
  auto r = run(args);
  EXPECT_NE(r.text.find("tund: --key: cannot read '" + path("nope.key") + "': No such file"),
            std::string::npos) << r.text;
  args[7] = dir_.string();
  r = run(args);
  EXPECT_NE(r.text.find("--key: cannot read '" + dir_.string() + "': not a regular file"),
            std::string::npos) << r.text;

  r = run({"--config", path("missing.conf")});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_NE(r.text.find("tund: --config: cannot read '" + path("missing.conf") + "'"),
            std::string::npos) << r.text;

  args = base();
  args[1] = "Office_A";
  r = run(args);
  EXPECT_NE(r.text.find("tund: --name: 'Office_A' is not a valid site name"), std::string::npos)
      << r.text;
  args = base();
  args[3] = "relay:0";
  r = run(args);
  EXPECT_NE(r.text.find("tund: --intermediary: port 0"), std::string::npos) << r.text;
  args[3] = "relay:99999";
  r = run(args);
  EXPECT_NE(r.text.find("tund: --intermediary: "), std::string::npos) << r.text;
  EXPECT_FALSE(r.config);
}

// Help text wraps at any space; compare with runs of whitespace collapsed.
std::string collapse_spaces(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\n';
    if (space && !out.empty() && out.back() == ' ') continue;
    out += space ? ' ' : c;
  }
  return out;
}

TEST_F(SiteConfigTest, HelpListsEveryKeyWithItsDefault) {
  auto r = run({"--help"});
  const std::string help = collapse_spaces(r.text);
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* key :
       {"--config", "--name", "--intermediary", "--server-name", "--cert", "--key", "--ca",
        "--tun ", "--tun-address", "--mtu", "--advertise", "--static-route", "--roles",
        "--connections", "--queues", "--offload", "--request-address", "--proxy-arp", "--masquerade", "--keepalive-ms", "--dead-after-ms", "--reconnect-min-ms",
        "--reconnect-max-ms", "--restart-hint-max-ms", "--restart-window-max-ms", "--status-file", "--log-level", "--max-learned-routes",
        "--learned-route-hold-ms", "--allow-learned-route", "--user", "--nft-path"}) {
    EXPECT_NE(r.text.find(key), std::string::npos) << key << " missing from\n" << r.text;
  }
  for (const char* dflt : {"(default dl0)", "(default 1500)", "(default router,proxy)",
                           "(default auto)", "(default on)", "(default 5000)", "(default 15000)",
                           "(default 200)", "(default 10000)", "(default info)", "(default 1024)",
                           "(default 600000)", "(default /usr/sbin/nft)"}) {
    EXPECT_NE(help.find(dflt), std::string::npos) << dflt << " missing from\n" << r.text;
  }
  EXPECT_EQ(r.text.back(), '\n');
  r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.text.back(), '\n');
  EXPECT_EQ(r.text.rfind("tund (dialout) ", 0), 0u) << r.text;
}

TEST_F(SiteConfigTest, ExampleConfigInDocsParses) {
  ConfigEnvironment env = system_environment();
  env.check_readable = [](const std::string&) { return std::string(); };  // /etc/dialout/...
  auto r = run({"--config", std::string(DIALOUT_SOURCE_DIR) + "/docs/examples/office-a.conf"}, env);
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->name, "office-a");
  EXPECT_FALSE(r.config->advertise.empty());
}

TEST_F(SiteConfigTest, ProxyAndItsCredentialsFile) {
  auto d = run(base());
  ASSERT_TRUE(d.config) << d.text;
  EXPECT_EQ(d.config->proxy.mode, ProxySetting::Mode::None);
  EXPECT_EQ(d.config->proxy_credentials, "");

  std::ofstream(dir_ / "creds") << "u:p\n";
  auto r = run(plus(base(), {"--proxy", "http://proxy.lan:3128", "--proxy-credentials", path("creds")}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->proxy.mode, ProxySetting::Mode::Server);
  EXPECT_EQ(r.config->proxy.server.to_string(), "http://proxy.lan:3128");
  EXPECT_EQ(r.config->proxy_credentials, path("creds"));

  auto env = run(plus(base(), {"--proxy", "env"}));
  ASSERT_TRUE(env.config) << env.text;
  EXPECT_EQ(env.config->proxy.mode, ProxySetting::Mode::Environment);

  auto bad = run(plus(base(), {"--proxy", "ftp://proxy.lan:21"}));
  EXPECT_FALSE(bad.config);
  EXPECT_EQ(bad.exit_code, 64);
  EXPECT_NE(bad.text.find("proxy"), std::string::npos) << bad.text;

  auto lonely = run(plus(base(), {"--proxy-credentials", path("creds")}));
  EXPECT_FALSE(lonely.config);
  EXPECT_NE(lonely.text.find("without proxy"), std::string::npos) << lonely.text;
}

TEST_F(SiteConfigTest, BehindProxyExampleParses) {
  ConfigEnvironment env = system_environment();
  env.check_readable = [](const std::string&) { return std::string(); };  // /etc/dialout/...
  auto r = run({"--config", std::string(DIALOUT_SOURCE_DIR) + "/docs/examples/behind-proxy.conf"}, env);
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->proxy.server.to_string(), "http://proxy.corp.example:3128");
  EXPECT_FALSE(r.config->proxy_credentials.empty());
}

}  // namespace
}  // namespace dialout
