#include "intermediary/relay_config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "intermediary/policy.hpp"

namespace dialout {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class RelayConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "relay_config_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (const char* f : {"relay.crt", "relay.key", "ca.crt", "ca.crl", "policy.conf"}) {
      std::ofstream(dir_ / f) << "x\n";
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const char* f) const { return (dir_ / f).string(); }
  std::string write_config(const std::string& text) const {
    std::ofstream(dir_ / "intermediary.conf") << text;
    return path("intermediary.conf");
  }
  std::vector<std::string> base() const {
    return {"--cert", path("relay.crt"), "--key", path("relay.key"), "--ca", path("ca.crt"),
            "--policy", path("policy.conf")};
  }
  static RelayConfigResult run(std::vector<std::string> args,
                               const ConfigEnvironment& env = system_environment()) {
    args.insert(args.begin(), "intermediary");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return parse_relay_config(static_cast<int>(argv.size()), argv.data(), env);
  }
  static std::vector<std::string> plus(std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }

  fs::path dir_;
};

TEST_F(RelayConfigTest, MinimalCommandLineGetsDefaults) {
  auto r = run(base());
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.exit_code, 0);
  const RelayConfig& c = *r.config;
  EXPECT_EQ(c.listen.host, "::");  // both families (dual-stack)
  EXPECT_EQ(c.listen.port, 443);
  EXPECT_EQ(c.tls.cert, path("relay.crt"));
  EXPECT_EQ(c.tls.key, path("relay.key"));
  EXPECT_EQ(c.tls.ca, path("ca.crt"));
  EXPECT_EQ(c.tls.crl, "");
  EXPECT_EQ(c.policy_file, path("policy.conf"));
  EXPECT_EQ(c.status_file, "");
  EXPECT_EQ(c.queue_bytes, 1048576u);
  EXPECT_EQ(c.keepalive, milliseconds(5000));
  EXPECT_EQ(c.dead_after, milliseconds(15000));
  EXPECT_EQ(c.handshake_timeout, milliseconds(5000));
  EXPECT_EQ(c.restart_hint, milliseconds(1000));
  EXPECT_EQ(c.max_sessions_per_identity, 32u);
  EXPECT_EQ(c.max_addresses_per_identity, 4u);
  EXPECT_EQ(c.workers, 0u) << "auto";
  EXPECT_EQ(c.log_level, LogLevel::Info);
  EXPECT_FALSE(c.share_port_backend) << "port sharing is off by default";
  EXPECT_EQ(c.share_port_max_connections, 256u);
  EXPECT_EQ(c.share_port_buffer_bytes, 32768u);
  EXPECT_EQ(c.control_socket, "/run/dialout/intermediary.sock");
  EXPECT_EQ(c.control_group, "");
  EXPECT_FALSE(c.metrics_listen) << "off by default";
  EXPECT_EQ(c.max_pending, 1024u);
  EXPECT_EQ(c.max_pending_per_source, 32u);
  EXPECT_EQ(c.handshake_rate_per_source, 20u);
  EXPECT_EQ(c.handshake_burst_per_source, 40u);
  EXPECT_EQ(c.handshakes_per_turn, 8u);
}

TEST_F(RelayConfigTest, PendingLimitSettings) {
  auto r = run(plus(base(), {"--max-pending", "64", "--max-pending-per-source", "64", "--handshake-rate-per-source",
                             "0", "--handshake-burst-per-source", "1"}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->max_pending, 64u);
  EXPECT_EQ(r.config->max_pending_per_source, 64u);
  EXPECT_EQ(r.config->handshake_rate_per_source, 0u) << "0: no rate limit";
  EXPECT_EQ(r.config->handshake_burst_per_source, 1u);
  auto f = run(plus(base(), {"--config", write_config("max-pending = 100\nhandshake-rate-per-source = 5\n")}));
  ASSERT_TRUE(f.config) << f.text;
  EXPECT_EQ(f.config->max_pending, 100u);
  EXPECT_EQ(f.config->handshake_rate_per_source, 5u);
  auto g = run(plus(base(), {"--handshakes-per-turn", "4096"}));
  ASSERT_TRUE(g.config) << g.text;
  EXPECT_EQ(g.config->handshakes_per_turn, 4096u);
  auto h = run(plus(base(), {"--config", write_config("handshakes-per-turn = 1\n")}));
  ASSERT_TRUE(h.config) << h.text;
  EXPECT_EQ(h.config->handshakes_per_turn, 1u);
}

TEST_F(RelayConfigTest, SharePortSettings) {
  auto r = run(plus(base(), {"--share-port-backend", "127.0.0.1:8443", "--share-port-max-connections", "65536",
                             "--share-port-buffer-bytes", "4096"}));
  ASSERT_TRUE(r.config) << r.text;
  ASSERT_TRUE(r.config->share_port_backend);
  EXPECT_EQ(*r.config->share_port_backend, (Endpoint{"127.0.0.1", 8443}));
  EXPECT_EQ(r.config->share_port_max_connections, 65536u);
  EXPECT_EQ(r.config->share_port_buffer_bytes, 4096u);
  auto f = run(plus(base(), {"--config", write_config("share-port-backend = [::1]:80\n")}));
  ASSERT_TRUE(f.config) << f.text;
  EXPECT_EQ(*f.config->share_port_backend, (Endpoint{"::1", 80}));
}

TEST_F(RelayConfigTest, OperationsSettings) {
  auto r = run(plus(base(), {"--control-socket", "/tmp/x.sock", "--control-group", "adm", "--metrics-listen",
                             "127.0.0.1:9101"}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->control_socket, "/tmp/x.sock");
  EXPECT_EQ(r.config->control_group, "adm");
  ASSERT_TRUE(r.config->metrics_listen);
  EXPECT_EQ(r.config->metrics_listen->to_string(), "127.0.0.1:9101");
  r = run(plus(base(), {"--control-socket", "none", "--metrics-listen", "[::1]:9101"}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->control_socket, "none");
  EXPECT_EQ(r.config->metrics_listen->host, "::1");
  r = run(plus(base(), {"--metrics-listen", "127.0.0.1"}));
  EXPECT_FALSE(r.config);
  EXPECT_NE(r.text.find("intermediary: --metrics-listen"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("needs a port (HOST:PORT)"), std::string::npos) << r.text;
}

TEST_F(RelayConfigTest, EveryFlagIsApplied) {
  auto r = run(plus(base(), {"--listen", "[::1]:0", "--crl", path("ca.crl"), "--status-file",
                             "/run/s", "--queue-bytes", "16384", "--keepalive-ms", "100",
                             "--dead-after-ms", "101", "--handshake-timeout-ms", "250",
                             "--restart-hint-ms", "0", "--max-sessions-per-identity", "4096",
                             "--max-addresses-per-identity", "4096", "--workers", "64", "--log-level", "error"}));
  ASSERT_TRUE(r.config) << r.text;
  const RelayConfig& c = *r.config;
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.listen.port, 0);  // ephemeral: tests listen this way
  EXPECT_EQ(c.tls.crl, path("ca.crl"));
  EXPECT_EQ(c.status_file, "/run/s");
  EXPECT_EQ(c.queue_bytes, 16384u);
  EXPECT_EQ(c.keepalive, milliseconds(100));
  EXPECT_EQ(c.dead_after, milliseconds(101));
  EXPECT_EQ(c.handshake_timeout, milliseconds(250));
  EXPECT_EQ(c.restart_hint, milliseconds(0));
  EXPECT_EQ(c.max_sessions_per_identity, 4096u);
  EXPECT_EQ(c.max_addresses_per_identity, 4096u);
  EXPECT_EQ(c.workers, 64u);
  EXPECT_EQ(c.log_level, LogLevel::Error);
}

TEST_F(RelayConfigTest, AddressPoolsOnePerFamily) {
  auto r = run(plus(base(), {"--address-pool", "10.8.0.0/24", "--address-pool", "fd00:8::/120"}));
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->address_pools,
            (std::vector<Prefix>{*Prefix::parse("10.8.0.0/24"), *Prefix::parse("fd00:8::/120")}));
}

TEST_F(RelayConfigTest, ConfigFileWithFlagOverride) {
  std::string conf = write_config("cert = " + path("relay.crt") + "\nkey = " + path("relay.key") +
                                  "\nca = " + path("ca.crt") + "\npolicy = " +
                                  path("policy.conf") +
                                  "\nlisten = 10.0.0.1:8443\nqueue-bytes = 65536\n"
                                  "max-addresses-per-identity = 1\nlog-level = debug\n");
  auto r = run({"--config", conf, "--listen", "127.0.0.1:9443"});
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->listen, (Endpoint{"127.0.0.1", 9443}));
  EXPECT_EQ(r.config->queue_bytes, 65536u);
  EXPECT_EQ(r.config->max_addresses_per_identity, 1u);
  EXPECT_EQ(r.config->log_level, LogLevel::Debug);
  r = run({"--config", conf});
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->listen, (Endpoint{"10.0.0.1", 8443}));
}

TEST_F(RelayConfigTest, BadValuesAreRefusedNamingTheKey) {
  struct Case {
    std::vector<std::string> flags;
    std::string file;
    std::string message;
  };
  const Case cases[] = {
      {{"--listen", "0.0.0.0:70000"}, "", "intermediary: --listen: "},
      {{"--crl", path("none.crl")}, "", "intermediary: --crl: cannot read '" + path("none.crl") + "'"},
      {{"--queue-bytes", "16383"}, "", "intermediary: --queue-bytes: 16383 is out of range (16384..67108864)"},
      {{"--queue-bytes", "67108865"}, "", "--queue-bytes: 67108865 is out of range"},
      {{"--queue-bytes", "256k"}, "", "--queue-bytes: '256k' is not a number"},
      {{"--keepalive-ms", "50"}, "", "intermediary: --keepalive-ms: 50 is out of range (100..3600000)"},
      {{"--dead-after-ms", "4000"}, "", "intermediary: --dead-after-ms: dead-after-ms (4000) must be greater than keepalive-ms (5000)"},
      {{}, "keepalive-ms = 16000\n", "intermediary.conf:1: keepalive-ms: dead-after-ms (15000) must be greater"},
      {{"--handshake-timeout-ms", "99"}, "", "intermediary: --handshake-timeout-ms: 99 is out of range"},
      {{"--restart-hint-ms", "600001"}, "", "intermediary: --restart-hint-ms: 600001 is out of range (0..600000)"},
      {{"--max-sessions-per-identity", "0"}, "", "intermediary: --max-sessions-per-identity: 0 is out of range (1..1048576)"},
      {{"--max-addresses-per-identity", "0"}, "", "intermediary: --max-addresses-per-identity: 0 is out of range (1..4096)"},
      {{}, "max-addresses-per-identity = 4097\n", "intermediary.conf:1: max-addresses-per-identity: 4097 is out of range"},
      {{"--max-pending", "0"}, "", "intermediary: --max-pending: 0 is out of range (1..1048576)"},
      {{"--max-pending", "16"}, "", "intermediary: --max-pending: max-pending-per-source (32) must not exceed max-pending (16)"},
      {{"--max-pending-per-source", "2000"}, "", "--max-pending-per-source: max-pending-per-source (2000) must not exceed"},
      {{"--handshakes-per-turn", "0"}, "", "intermediary: --handshakes-per-turn: 0 is out of range (1..4096)"},
      {{}, "handshakes-per-turn = 4097\n", "intermediary.conf:1: handshakes-per-turn: 4097 is out of range"},
      {{}, "handshake-burst-per-source = 0\n", "intermediary.conf:1: handshake-burst-per-source: 0 is out of range"},
      {{"--log-level", "loud"}, "", "intermediary: --log-level: 'loud' is not a log level"},
      {{"--workers", "65"}, "", "intermediary: --workers: 65 is out of range (0..64), or auto"},
      {{}, "workers = many\n", "intermediary.conf:1: workers: 'many' is not a number"},
      {{"--share-port-backend", "web.example"}, "", "intermediary: --share-port-backend: needs a port other than 0"},
      {{"--share-port-backend", "web:99999"}, "", "intermediary: --share-port-backend: "},
      {{"--share-port-max-connections", "0"}, "", "--share-port-max-connections: 0 is out of range (1..65536)"},
      {{}, "share-port-buffer-bytes = 4095\n", "intermediary.conf:1: share-port-buffer-bytes: 4095 is out of range"},
      {{"--policy", "x"}, "", "intermediary: --policy: given more than once"},
      {{"--name", "x"}, "", "intermediary: unknown option '--name'"},
      {{}, "name = x\n", "intermediary.conf:1: unknown key 'name'"},
      {{}, "# c\nqueue-bytes = 1\nqueue-bytes = 2\n", "intermediary.conf:3: queue-bytes: set twice (first on line 2)"},
      {{}, "crl = " + path("none.crl") + "\n", "intermediary.conf:1: crl: cannot read"},
      {{"--address-pool", "10.8.0.1/24"}, "", "intermediary: --address-pool: '10.8.0.1/24' has host bits set"},
      {{"--address-pool", "10.8.0.0/24", "--address-pool", "10.9.0.0/24"}, "",
       "intermediary: --address-pool: only one IPv4 pool is allowed (already 10.8.0.0/24)"},
  };
  for (const auto& c : cases) {
    auto args = plus(base(), c.flags);
    if (!c.file.empty()) args = plus(args, {"--config", write_config(c.file)});
    auto r = run(args);
    EXPECT_FALSE(r.config) << c.message;
    EXPECT_EQ(r.exit_code, 64) << c.message;
    EXPECT_NE(r.text.find(c.message), std::string::npos)
        << "expected: " << c.message << "\n     got: " << r.text;
  }
}

TEST_F(RelayConfigTest, RequiredFilesMustBeGivenAndReadable) {
  for (const char* key : {"--cert", "--key", "--ca", "--policy"}) {
    auto args = base();
    auto it = std::find(args.begin(), args.end(), key);
    ASSERT_NE(it, args.end());
    *(it + 1) = path("absent");
    auto r = run(args);
    EXPECT_EQ(r.exit_code, 64);
    EXPECT_NE(r.text.find(std::string("intermediary: ") + key + ": cannot read '" +
                          path("absent") + "': No such file or directory"),
              std::string::npos)
        << r.text;
    args.erase(it, it + 2);
    r = run(args);
    EXPECT_NE(r.text.find(std::string("intermediary: ") + key + ": missing"), std::string::npos)
        << r.text;
  }
}

TEST_F(RelayConfigTest, WorkersAutoIsOnePerCpuCappedAtEight) {
  for (const char* v : {"auto", "0"}) {
    auto r = run(plus(base(), {"--workers", v}));
    ASSERT_TRUE(r.config) << r.text;
    EXPECT_EQ(r.config->workers, 0u) << v;
  }
  EXPECT_EQ(resolve_workers(0, 2), 2u);
  EXPECT_EQ(resolve_workers(0, 1), 1u);
  EXPECT_EQ(resolve_workers(0, 0), 1u) << "an unknown CPU count still gives one worker";
  EXPECT_EQ(resolve_workers(0, 96), 8u);
  EXPECT_EQ(resolve_workers(3, 96), 3u) << "an explicit count is taken as it is";
  EXPECT_EQ(resolve_workers(16, 2), 16u);
}

TEST_F(RelayConfigTest, HelpListsEveryKey) {
  auto r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.config);
  for (const char* key : {"--config", "--listen", "--cert", "--key", "--ca", "--crl", "--policy",
                          "--status-file", "--queue-bytes", "--keepalive-ms", "--dead-after-ms",
                          "--handshake-timeout-ms", "--restart-hint-ms",
                          "--max-sessions-per-identity", "--max-addresses-per-identity", "--workers", "--log-level",
                          "--share-port-backend", "--share-port-max-connections", "--share-port-buffer-bytes",
                          "--max-pending", "--max-pending-per-source", "--handshake-rate-per-source",
                          "--handshake-burst-per-source"}) {
    EXPECT_NE(r.text.find(key), std::string::npos) << key << " missing from\n" << r.text;
  }
  EXPECT_NE(r.text.find("(default [::]:443)"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("1048576"), std::string::npos) << r.text;
}

TEST_F(RelayConfigTest, ExampleConfigAndPolicyInDocsParse) {
  const std::string docs = std::string(DIALOUT_SOURCE_DIR) + "/docs/examples/";
  ConfigEnvironment env = system_environment();
  env.check_readable = [](const std::string&) { return std::string(); };  // /etc/dialout/...
  auto r = run({"--config", docs + "intermediary.conf"}, env);
  ASSERT_TRUE(r.config) << r.text;
  EXPECT_EQ(r.config->policy_file, "/etc/dialout/policy.conf");
  auto shared = run({"--config", docs + "intermediary-shared-443.conf"}, env);
  ASSERT_TRUE(shared.config) << shared.text;
  ASSERT_TRUE(shared.config->share_port_backend);
  EXPECT_EQ(shared.config->share_port_backend->to_string(), "127.0.0.1:8443");
  auto policy = Policy::load(docs + "policy.conf");
  ASSERT_TRUE(policy) << policy.error().to_string();
  EXPECT_TRUE(policy->may_register("gw-a", "office-a"));
  EXPECT_FALSE(policy->may_register("gw-a", "office-b"));
  EXPECT_TRUE(policy->may_reach("gw-b", "office-a"));
}

}  // namespace
}  // namespace dialout
