// DnsLink against a FAKE resolvectl and a fake hook: scripts written by the
// test that record their argv (and the hook its DIALOUT_* environment), run
// through the real run_process. No systemd-resolved needed.
#include "tund/dns_link.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace dialout {
namespace {

namespace fs = std::filesystem;

DnsConfig cfg(std::vector<const char*> servers, std::vector<std::string> domains) {
  DnsConfig c;
  for (const char* s : servers) c.servers.push_back(*IpAddr::parse(s));
  c.domains = std::move(domains);
  return c;
}

class DnsLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "dns_link_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    log_path_ = (dir_ / "calls").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A program that appends one line per call: its argv (and env for hooks),
  // then exits with `status`.
  std::string script(const char* name, const std::string& body_line, int status = 0) {
    auto p = dir_ / name;
    std::ofstream(p) << "#!/bin/sh\n" << body_line << " >> '" << log_path_ << "'\nexit " << status << "\n";
    ::chmod(p.c_str(), 0755);
    return p.string();
  }
  std::vector<std::string> calls() const {
    std::ifstream in(log_path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  std::string logged() const { return lines_.str(); }

  fs::path dir_;
  std::string log_path_;
  std::ostringstream lines_;
  Logger log_{"tund", LogLevel::Debug, [this](std::string_view l) { lines_ << l; }};
};

TEST_F(DnsLinkTest, ResolvectlSplitDnsAndRevert) {
  auto fake = script("resolvectl", "echo \"resolvectl $*\"");
  DnsLink link(DnsPlanSettings{DnsMethod::Resolvectl, "dl0", fake, ""}, log_);
  auto a = cfg({"10.1.0.53", "fd00:1::53"}, {"office-a.lan", "corp.example"});
  link.update(a);
  link.update(a);  // every uplink reports it: nothing runs again
  EXPECT_EQ(calls(), (std::vector<std::string>{"resolvectl dns dl0 10.1.0.53 fd00:1::53",
                                                "resolvectl domain dl0 office-a.lan corp.example",
                                                "resolvectl default-route dl0 false"}));
  EXPECT_EQ(link.applied(), a);
  EXPECT_NE(logged().find("dns: resolvers 10.1.0.53 fd00:1::53 for office-a.lan corp.example on dl0 via resolvectl"),
            std::string::npos)
      << logged();
  link.update(cfg({"10.2.0.53"}, {"office-b.lan"}));  // a reload changed it
  link.clear();                                       // tund stops
  link.clear();
  auto all = calls();
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[3], "resolvectl dns dl0 10.2.0.53");
  EXPECT_EQ(all[4], "resolvectl domain dl0 office-b.lan");
  EXPECT_EQ(all[6], "resolvectl revert dl0");
  EXPECT_TRUE(link.applied().empty());
  EXPECT_EQ(link.failures(), 0u);
}

TEST_F(DnsLinkTest, HookGetsUpAndDownWithItsEnvironment) {
  auto hook = script("hook", "echo \"$1 $2 [$DIALOUT_DNS_SERVERS] [$DIALOUT_DNS_DOMAINS] [$DIALOUT_INTERFACE]\"");
  DnsLink link(DnsPlanSettings{DnsMethod::Hook, "dl0", "resolvectl", hook}, log_);
  link.update(cfg({"10.1.0.53"}, {"office-a.lan"}));
  link.update(cfg({"10.1.0.53", "10.1.0.54"}, {"office-a.lan"}));
  link.clear();
  EXPECT_EQ(calls(), (std::vector<std::string>{
                         "up dl0 [10.1.0.53] [office-a.lan] [dl0]",
                         "down dl0 [10.1.0.53] [office-a.lan] [dl0]",
                         "up dl0 [10.1.0.53 10.1.0.54] [office-a.lan] [dl0]",
                         "down dl0 [10.1.0.53 10.1.0.54] [office-a.lan] [dl0]",
                     }));
}

TEST_F(DnsLinkTest, FailuresAreLoggedAndStillUndoneAtExit) {
  auto hook = script("hook", "echo 'no dnsmasq here' >&2; echo \"$1\"", 3);
  DnsLink link(DnsPlanSettings{DnsMethod::Hook, "dl0", "resolvectl", hook}, log_);
  link.update(cfg({"10.1.0.53"}, {"office-a.lan"}));
  EXPECT_EQ(link.failures(), 1u);
  EXPECT_NE(logged().find("exit 3: no dnsmasq here"), std::string::npos) << logged();
  link.clear();  // whatever `up` may have done is undone
  EXPECT_EQ(calls(), (std::vector<std::string>{"up", "down"}));

  DnsLink missing(DnsPlanSettings{DnsMethod::Resolvectl, "dl0", (dir_ / "no-resolvectl").string(), ""}, log_);
  missing.update(cfg({"10.1.0.53"}, {"office-a.lan"}));
  EXPECT_EQ(missing.failures(), 3u);
  EXPECT_NE(logged().find("no-resolvectl: no such file"), std::string::npos) << logged();
}

TEST_F(DnsLinkTest, NoMethodWarnsOnceAndRunsNothing) {
  int runs = 0;
  DnsLink link(DnsPlanSettings{DnsMethod::None, "dl0", "resolvectl", ""}, log_, [&](const DnsCommand&) {
    ++runs;
    return Expected<ProcessResult, std::string>(ProcessResult{0, ""});
  });
  link.update(cfg({"10.1.0.53"}, {"office-a.lan"}));
  link.update(cfg({"10.1.0.54"}, {"office-a.lan"}));
  link.clear();
  EXPECT_EQ(runs, 0);
  const std::string text = logged();
  auto first = text.find("no method applies it here");
  ASSERT_NE(first, std::string::npos) << text;
  EXPECT_EQ(text.find("no method applies it here", first + 1), std::string::npos) << "said once";
}

TEST_F(DnsLinkTest, ResolvedRunningLooksForItsRuntimeDirectory) {
  EXPECT_FALSE(resolved_running((dir_ / "resolve").string()));
  fs::create_directory(dir_ / "resolve");
  EXPECT_TRUE(resolved_running((dir_ / "resolve").string()));
}

}  // namespace
}  // namespace dialout
