#include "tund/socks5_client.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/proxy_script.hpp"

namespace dialout {
namespace {

const ProxyCredentials kCredentials{"bob", "hunter2!"};

std::unique_ptr<Socks5Client> connect_to(std::string host, uint16_t port, const ProxyCredentials* credentials) {
  Socks5Client::Request r{Endpoint{"192.0.2.9", 1080}, Endpoint{std::move(host), port}, credentials};
  auto h = Socks5Client::start(r);
  EXPECT_TRUE(h) << h.error();
  return h ? std::move(*h) : nullptr;
}

// Greeting, method and CONNECT for relay.example.net:443.
const std::string kGreetingNone = bytes("\x05\x01\x00");
const std::string kGreetingBoth = bytes("\x05\x02\x00\x02");
const std::string kAuth = bytes("\x01\x03" "bob" "\x08" "hunter2!");
const std::string kConnectName = bytes("\x05\x01\x00\x03\x11" "relay.example.net" "\x01\xbb");
const std::string kReplyV4 = bytes("\x05\x00\x00\x01\xc0\x00\x02\x09\x9c\x40");

struct Case {
  const char* name;
  bool credentials;
  std::vector<std::string> replies;
  ProxyProgress progress;
  std::string sent;                    // every byte the client wrote
  std::string tunnel;                  // Established
  std::vector<std::string> error_has;  // Failed
  // Splitting a reply that carries the next one's bytes turns it into a
  // well-behaved proxy: only the whole form shows the violation.
  bool splittable = true;
};

std::vector<Case> cases() {
  return {
      {"no authentication", false, {bytes("\x05\x00"), kReplyV4}, ProxyProgress::Established,
       kGreetingNone + kConnectName, "", {}},
      {"username/password", true, {bytes("\x05\x02"), bytes("\x01\x00"), kReplyV4}, ProxyProgress::Established,
       kGreetingBoth + kAuth + kConnectName, "", {}},
      {"credentials offered, proxy wants none", true, {bytes("\x05\x00"), kReplyV4}, ProxyProgress::Established,
       kGreetingBoth + kConnectName, "", {}},
      {"tunnel bytes after the reply", false, {bytes("\x05\x00"), kReplyV4 + "\x16\x03\x03hello"},
       ProxyProgress::Established, kGreetingNone + kConnectName, "\x16\x03\x03hello", {}},
      {"reply binding an IPv6 address", false,
       {bytes("\x05\x00"), bytes("\x05\x00\x00\x04" "0123456789abcdef" "\x01\x00") + "T"}, ProxyProgress::Established,
       kGreetingNone + kConnectName, "T", {}},
      {"reply binding a name", false, {bytes("\x05\x00"), bytes("\x05\x00\x00\x03\x04" "host" "\x01\x00") + "TT"},
       ProxyProgress::Established, kGreetingNone + kConnectName, "TT", {}},
      {"method refused, no credentials", false, {bytes("\x05\xff")}, ProxyProgress::Failed, kGreetingNone, "",
       {"SOCKS5 proxy 192.0.2.9:1080", "accepts none of the authentication methods we offered (no authentication)",
        "need proxy-credentials"}},
      {"method refused, with credentials", true, {bytes("\x05\xff")}, ProxyProgress::Failed, kGreetingBoth, "",
       {"(no authentication, username/password)"}},
      {"password method not offered", false, {bytes("\x05\x02")}, ProxyProgress::Failed, kGreetingNone, "",
       {"chose authentication method 0x02, which we did not offer"}},
      {"GSSAPI chosen", true, {bytes("\x05\x01")}, ProxyProgress::Failed, kGreetingBoth, "", {"method 0x01"}},
      {"SOCKS4 answer", false, {bytes("\x00\x5a")}, ProxyProgress::Failed, kGreetingNone, "",
       {"version 0 instead of 5: not a SOCKS5 proxy"}},
      {"HTTP answer", false, {"HTTP/1.1 400 Bad Request\r\n\r\n"}, ProxyProgress::Failed, kGreetingNone, "",
       {"version 72 instead of 5"}},
      {"bytes after the method", false, {bytes("\x05\x00\x05")}, ProxyProgress::Failed, kGreetingNone, "",
       {"1 unexpected bytes after its method selection"}, false},
      {"authentication failure", true, {bytes("\x05\x02"), bytes("\x01\x01")}, ProxyProgress::Failed,
       kGreetingBoth + kAuth, "", {"refused our proxy-credentials (status 0x01)"}},
      {"authentication reply with version 5", true, {bytes("\x05\x02"), bytes("\x05\x00")}, ProxyProgress::Failed,
       kGreetingBoth + kAuth, "", {"username/password step with version 5 instead of 1"}},
      {"bytes after the auth status", true, {bytes("\x05\x02"), bytes("\x01\x00\x05")}, ProxyProgress::Failed,
       kGreetingBoth + kAuth, "", {"after its username/password status"}, false},
      {"reply with version 4", false, {bytes("\x05\x00"), bytes("\x04\x00\x00\x01\x00\x00\x00\x00\x00\x00")},
       ProxyProgress::Failed, kGreetingNone + kConnectName, "", {"CONNECT with version 4"}},
      {"reserved byte set", false, {bytes("\x05\x00"), bytes("\x05\x00\x01\x01\x00\x00\x00\x00\x00\x00")},
       ProxyProgress::Failed, kGreetingNone + kConnectName, "", {"reserved byte 0x01"}},
      {"unknown address type", false, {bytes("\x05\x00"), bytes("\x05\x00\x00\x05\x00\x00\x00\x00\x00\x00")},
       ProxyProgress::Failed, kGreetingNone + kConnectName, "", {"unknown address type 0x05"}},
      {"empty bound name", false, {bytes("\x05\x00"), bytes("\x05\x00\x00\x03\x00\x00\x00")}, ProxyProgress::Failed,
       kGreetingNone + kConnectName, "", {"empty bound host name"}},
  };
}

// The tunnel bytes are what came with the piece that completed the CONNECT
// reply (the last reply); the rest stays in the socket for TLS to read.
struct Cut {
  size_t which = SIZE_MAX;  // the reply that was split, if any
  size_t at = 0;
  bool bytewise = false;
};
std::string expected_tunnel(const Case& c, const Cut& cut) {
  if (c.progress != ProxyProgress::Established) return "";
  if (cut.bytewise) return "";
  const std::string& last = c.replies.back();
  const size_t reply_end = last.size() - c.tunnel.size();
  if (cut.which != c.replies.size() - 1 || cut.at < reply_end) return c.tunnel;
  return last.substr(reply_end, cut.at - reply_end);
}

void check(const Case& c, const ProxyRun& run, const std::string& how, const Cut& cut = {}) {
  SCOPED_TRACE(std::string(c.name) + " " + how);
  ASSERT_EQ(run.progress, c.progress) << run.error;
  EXPECT_EQ(run.sent, c.sent);
  EXPECT_EQ(run.tunnel, expected_tunnel(c, cut));
  for (const std::string& part : c.error_has) EXPECT_NE(run.error.find(part), std::string::npos) << run.error;
  EXPECT_EQ(run.error.find(kCredentials.password), std::string::npos) << run.error;
  EXPECT_EQ(run.error.find(kCredentials.user), std::string::npos) << run.error;
}

ProxyRun run_case(const Case& c, const ReplyCutter& cut) {
  auto h = connect_to("relay.example.net", 443, c.credentials ? &kCredentials : nullptr);
  return play(*h, c.replies, cut);
}

TEST(Socks5ClientTest, RepliesWhole) {
  for (const Case& c : cases()) check(c, run_case(c, whole), "whole");
}

TEST(Socks5ClientTest, RepliesSplitAtEveryByte) {
  for (const Case& c : cases()) {
    if (!c.splittable) continue;
    for (size_t which = 0; which < c.replies.size(); ++which) {
      for (size_t at = 0; at <= c.replies[which].size(); ++at) {
        check(c, run_case(c, split_one(which, at)), "reply " + std::to_string(which) + " split at " + std::to_string(at),
              Cut{which, at, false});
      }
    }
    check(c, run_case(c, bytewise), "byte by byte", Cut{0, 0, true});
  }
}

TEST(Socks5ClientTest, TargetAddressTypes) {
  struct Target {
    std::string host;
    std::string request;
  };
  const std::vector<Target> targets = {
      {"203.0.113.5", bytes("\x05\x01\x00\x01\xcb\x00\x71\x05\x01\xbb")},
      {"2001:db8::1", bytes("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\xbb")},
      {"relay.example.net", kConnectName},
  };
  for (const Target& t : targets) {
    auto h = connect_to(t.host, 443, nullptr);
    ProxyRun run = play(*h, {bytes("\x05\x00"), kReplyV4});
    ASSERT_EQ(run.progress, ProxyProgress::Established) << run.error;
    EXPECT_EQ(run.sent, kGreetingNone + t.request) << t.host;
  }
}

TEST(Socks5ClientTest, EveryReplyCodeIsNamed) {
  const std::vector<std::string> names = {"general SOCKS server failure", "connection not allowed by ruleset",
                                          "network unreachable", "host unreachable", "connection refused",
                                          "TTL expired", "command not supported", "address type not supported"};
  for (uint8_t rep = 1; rep <= 9; ++rep) {
    auto h = connect_to("relay.example.net", 443, nullptr);
    std::string reply = bytes("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00");
    reply[1] = static_cast<char>(rep);
    ProxyRun run = play(*h, {bytes("\x05\x00"), reply.substr(0, 2)});  // refused on REP alone
    ASSERT_EQ(run.progress, ProxyProgress::Failed) << int(rep);
    const std::string name = rep <= 8 ? names[rep - 1] : "unassigned reply code 0x09";
    EXPECT_EQ(run.error, "SOCKS5 proxy 192.0.2.9:1080: refused CONNECT to relay.example.net:443: " + name +
                             " (reply 0x0" + std::to_string(rep) + ")");
  }
}

TEST(Socks5ClientTest, ProxyClosingIsAFailureSayingWhen) {
  struct Close {
    bool credentials;
    std::vector<std::string> replies;
    std::string when;
  };
  for (const Close& c : std::vector<Close>{{false, {}, "before choosing an authentication method"},
                                           {true, {bytes("\x05\x02")}, "before answering our username/password"},
                                           {false, {bytes("\x05\x00")}, "before answering the CONNECT"},
                                           {false, {bytes("\x05\x00"), bytes("\x05\x00\x00\x01\xc0")},
                                            "before answering the CONNECT"}}) {
    auto h = connect_to("relay.example.net", 443, c.credentials ? &kCredentials : nullptr);
    ProxyRun run = play(*h, c.replies, whole, true);
    ASSERT_EQ(run.progress, ProxyProgress::Failed);
    EXPECT_EQ(run.error, "SOCKS5 proxy 192.0.2.9:1080: closed the connection " + c.when);
  }
}

TEST(Socks5ClientTest, StartRefusesWhatTheRequestCannotCarry) {
  const ProxyCredentials long_user{std::string(256, 'u'), "pw"};
  const ProxyCredentials empty_password{"user", ""};
  const ProxyCredentials longest{std::string(255, 'u'), std::string(255, 'p')};
  EXPECT_FALSE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{std::string(254, 'a'), 443}, nullptr}));
  EXPECT_TRUE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{std::string(253, 'a'), 443}, nullptr}));
  EXPECT_FALSE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{"bad name", 443}, nullptr}));
  EXPECT_FALSE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{"relay", 0}, nullptr}));
  EXPECT_FALSE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{"relay", 443}, &long_user}));
  EXPECT_FALSE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{"relay", 443}, &empty_password}));
  EXPECT_TRUE(Socks5Client::start({Endpoint{"proxy", 1080}, Endpoint{"relay", 443}, &longest}));
}

}  // namespace
}  // namespace dialout
