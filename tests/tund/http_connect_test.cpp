#include "tund/http_connect.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/proxy_script.hpp"

namespace dialout {
namespace {

const ProxyCredentials kCredentials{"alice", "s3cret:pw"};
constexpr std::string_view kBasicToken = "YWxpY2U6czNjcmV0OnB3";  // base64("alice:s3cret:pw")

std::unique_ptr<HttpConnect> connect_to(std::string host, const ProxyCredentials* credentials, bool send) {
  HttpConnect::Request r;
  r.proxy = Endpoint{"192.0.2.7", 3128};
  r.target = Endpoint{std::move(host), 443};
  r.credentials = credentials;
  r.send_credentials = send;
  auto h = HttpConnect::start(r);
  EXPECT_TRUE(h) << h.error();
  return h ? std::move(*h) : nullptr;
}

void expect_no_secret(const std::string& text) {
  EXPECT_EQ(text.find(kCredentials.password), std::string::npos) << text;
  EXPECT_EQ(text.find(kCredentials.user), std::string::npos) << text;
  EXPECT_EQ(text.find(kBasicToken), std::string::npos) << text;
}

TEST(HttpConnectTest, RequestNamesTargetInLineAndHost) {
  auto h = connect_to("relay.example.net", nullptr, false);
  ProxyRun run = play(*h, {});
  EXPECT_EQ(run.sent,
            "CONNECT relay.example.net:443 HTTP/1.1\r\nHost: relay.example.net:443\r\n"
            "User-Agent: dialout/0.1.0\r\n\r\n");
}

TEST(HttpConnectTest, RequestBracketsIpv6AndCarriesBasicCredentials) {
  auto h = connect_to("2001:db8::1", &kCredentials, true);
  ProxyRun run = play(*h, {});
  EXPECT_EQ(run.sent,
            "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n"
            "User-Agent: dialout/0.1.0\r\nProxy-Authorization: Basic " + std::string(kBasicToken) + "\r\n\r\n");
}

TEST(HttpConnectTest, CredentialsAreNotSentUnlessAsked) {
  auto h = connect_to("relay.example.net", &kCredentials, false);
  EXPECT_EQ(play(*h, {}).sent.find("Proxy-Authorization"), std::string::npos);
}

TEST(HttpConnectTest, StartRefusesTargetsARequestLineCannotCarry) {
  for (const char* host : {"relay.example.net\r\nX-Injected: 1", "relay example", "", "relay/x"}) {
    HttpConnect::Request r{Endpoint{"192.0.2.7", 3128}, Endpoint{host, 443}, nullptr, false};
    EXPECT_FALSE(HttpConnect::start(r)) << host;
  }
  HttpConnect::Request no_port{Endpoint{"192.0.2.7", 3128}, Endpoint{"relay", 0}, nullptr, false};
  EXPECT_FALSE(HttpConnect::start(no_port));
  HttpConnect::Request no_credentials{Endpoint{"192.0.2.7", 3128}, Endpoint{"relay", 443}, nullptr, true};
  EXPECT_FALSE(HttpConnect::start(no_credentials));
}

struct Case {
  const char* name;
  std::string reply;
  bool have_credentials;
  bool sent_credentials;
  ProxyProgress progress;
  std::string tunnel;                     // Established
  std::vector<std::string> error_has;     // Failed / Retry
};

const std::string kOk = "HTTP/1.1 200 Connection established\r\n\r\n";
const std::string k407 = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n"
                         "Content-Length: 5\r\n\r\nnope!";

std::vector<Case> cases() {
  return {
      {"200", kOk, false, false, ProxyProgress::Established, "", {}},
      {"200 HTTP/1.0 with fields and tunnel bytes",
       "HTTP/1.0 200 OK\r\nProxy-Agent: squid/5.7\r\nContent-Length: 99\r\n\r\n\x16\x03\x03\x01\x02hi", false, false,
       ProxyProgress::Established, "\x16\x03\x03\x01\x02hi", {}},
      {"2xx other than 200", "HTTP/1.1 204 No Content\r\n\r\nX", false, false, ProxyProgress::Established, "X", {}},
      {"no reason phrase", "HTTP/1.1 200\r\n\r\n", false, false, ProxyProgress::Established, "", {}},
      {"interim 100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nT", false, false,
       ProxyProgress::Established, "T", {}},
      {"403", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", true, false, ProxyProgress::Failed, "",
       {"HTTP proxy 192.0.2.7:3128", "refused CONNECT to relay.example.net:443", "'HTTP/1.1 403 Forbidden'"}},
      {"502", "HTTP/1.1 502 Bad Gateway\r\n\r\n", false, false, ProxyProgress::Failed, "",
       {"HTTP proxy 192.0.2.7:3128", "'HTTP/1.1 502 Bad Gateway'"}},
      {"407 first attempt with credentials at hand", k407, true, false, ProxyProgress::RetryWithCredentials, "",
       {"HTTP proxy 192.0.2.7:3128", "new connection", "'HTTP/1.1 407 Proxy Authentication Required'"}},
      {"407 after sending credentials", k407, true, true, ProxyProgress::Failed, "",
       {"HTTP proxy 192.0.2.7:3128", "refused our proxy-credentials", "'HTTP/1.1 407 Proxy Authentication Required'"}},
      {"407 without credentials", k407, false, false, ProxyProgress::Failed, "",
       {"no proxy-credentials are configured", "'HTTP/1.1 407"}},
      {"407 offering only Negotiate and NTLM",
       "HTTP/1.1 407 Auth\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\n\r\n", true, false,
       ProxyProgress::Failed, "", {"Negotiate, NTLM", "only Basic"}},
      {"407 with Basic among others",
       "HTTP/1.1 407 Auth\r\nProxy-Authenticate: Negotiate, Basic realm=\"a, b\", charset=\"UTF-8\"\r\n\r\n", true,
       false, ProxyProgress::RetryWithCredentials, "", {"'HTTP/1.1 407 Auth'"}},
      {"407 where only a quoted realm says Basic",
       "HTTP/1.1 407 Auth\r\nProxy-Authenticate: Digest realm=\"Basic x\", basic=1\r\n\r\n", true, false,
       ProxyProgress::Failed, "", {"by Digest", "only Basic"}},
      {"407 without a challenge", "HTTP/1.1 407 Auth\r\n\r\n", true, false, ProxyProgress::RetryWithCredentials, "",
       {}},
      {"101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false, false, ProxyProgress::Failed, "",
       {"switched protocols"}},
      {"HTTP/2 status line", "HTTP/2 200\r\n\r\n", false, false, ProxyProgress::Failed, "", {"malformed status line"}},
      {"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", false, false, ProxyProgress::Failed, "", {"not HTTP/1.0 or HTTP/1.1"}},
      {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", false, false, ProxyProgress::Failed, "", {"status"}},
      {"status 099", "HTTP/1.1 099 Low\r\n\r\n", false, false, ProxyProgress::Failed, "", {"out of range"}},
      {"bare LF", "HTTP/1.1 200 OK\n\n", false, false, ProxyProgress::Failed, "", {"line feed without carriage return"}},
      {"bare CR", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", false, false, ProxyProgress::Failed, "",
       {"carriage return without line feed"}},
      {"space before colon", "HTTP/1.1 200 OK\r\nVia : x\r\n\r\n", false, false, ProxyProgress::Failed, "",
       {"not a token"}},
      {"folded field", "HTTP/1.1 200 OK\r\nVia: a\r\n b\r\n\r\n", false, false, ProxyProgress::Failed, "",
       {"folding"}},
      {"field without colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", false, false, ProxyProgress::Failed, "",
       {"no field name"}},
      {"control byte in a value", std::string("HTTP/1.1 200 OK\r\nVia: a\0b\r\n\r\n", 29), false, false,
       ProxyProgress::Failed, "", {"control character"}},
      {"SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", false, false, ProxyProgress::Failed, "", {"not HTTP"}},
      {"a SOCKS5 answer", std::string("\x05\xff", 2), false, false, ProxyProgress::Failed, "", {"not HTTP"}},
  };
}

ProxyRun run_case(const Case& c, const ReplyCutter& cut) {
  auto h = connect_to("relay.example.net", c.have_credentials ? &kCredentials : nullptr, c.sent_credentials);
  return play(*h, {c.reply}, cut);
}

// The tunnel bytes are what came with the piece that completed the head;
// the rest stays in the socket for TLS to read. `cut_at`: the one split
// (npos: whole, 0 with bytewise: byte by byte).
std::string expected_tunnel(const Case& c, size_t cut_at, bool bytewise_run) {
  const size_t head_end = c.reply.size() - c.tunnel.size();
  if (bytewise_run) return "";
  if (cut_at == std::string::npos || cut_at < head_end) return c.tunnel;
  return c.reply.substr(head_end, cut_at - head_end);
}

void check(const Case& c, const ProxyRun& run, const std::string& how, size_t cut_at = std::string::npos,
           bool bytewise_run = false) {
  SCOPED_TRACE(std::string(c.name) + " " + how);
  ASSERT_EQ(run.progress, c.progress) << run.error;
  if (c.progress == ProxyProgress::Established) {
    EXPECT_EQ(run.tunnel, expected_tunnel(c, cut_at, bytewise_run));
    EXPECT_EQ(run.error, "");
  } else {
    EXPECT_EQ(run.tunnel, "");
    for (const std::string& part : c.error_has) EXPECT_NE(run.error.find(part), std::string::npos) << run.error;
  }
  expect_no_secret(run.error);
}

TEST(HttpConnectTest, ResponsesWhole) {
  for (const Case& c : cases()) check(c, run_case(c, whole), "whole");
}

TEST(HttpConnectTest, ResponsesSplitAtEveryByte) {
  for (const Case& c : cases()) {
    for (size_t at = 0; at <= c.reply.size(); ++at) {
      check(c, run_case(c, split_one(0, at)), "split at " + std::to_string(at), at);
    }
    check(c, run_case(c, bytewise), "byte by byte", 0, true);
  }
}

TEST(HttpConnectTest, Proxy407ThenSuccessOnAFreshConnectionWithCredentials) {
  auto first = connect_to("relay.example.net", &kCredentials, false);
  ProxyRun run = play(*first, {k407});
  ASSERT_EQ(run.progress, ProxyProgress::RetryWithCredentials);
  EXPECT_EQ(run.sent.find("Proxy-Authorization"), std::string::npos);

  auto second = connect_to("relay.example.net", &kCredentials, true);
  run = play(*second, {kOk + "first tunnel bytes"});
  ASSERT_EQ(run.progress, ProxyProgress::Established) << run.error;
  EXPECT_NE(run.sent.find("Proxy-Authorization: Basic " + std::string(kBasicToken) + "\r\n"), std::string::npos);
  EXPECT_EQ(run.tunnel, "first tunnel bytes");
}

TEST(HttpConnectTest, Proxy407TwiceIsRefusedNamingTheStatusLine) {
  auto first = connect_to("relay.example.net", &kCredentials, false);
  ASSERT_EQ(play(*first, {k407}).progress, ProxyProgress::RetryWithCredentials);
  auto second = connect_to("relay.example.net", &kCredentials, true);
  ProxyRun run = play(*second, {k407});
  ASSERT_EQ(run.progress, ProxyProgress::Failed);
  EXPECT_EQ(run.error,
            "HTTP proxy 192.0.2.7:3128: refused our proxy-credentials: 'HTTP/1.1 407 Proxy Authentication Required'");
}

std::string head_of_size(size_t size, const std::string& tail) {
  std::string head = "HTTP/1.1 200 OK\r\nX-Pad: ";
  head += std::string(size - head.size() - 4, 'a');
  head += "\r\n\r\n";
  return head + tail;
}

TEST(HttpConnectTest, HeadAtTheBoundIsTakenOneByteMoreIsRefused) {
  auto h = connect_to("relay.example.net", nullptr, false);
  ProxyRun run = play(*h, {head_of_size(HttpConnect::kMaxResponseHead, "tunnel")});
  ASSERT_EQ(run.progress, ProxyProgress::Established) << run.error;
  EXPECT_EQ(run.tunnel, "tunnel");

  for (const ReplyCutter& cut : std::vector<ReplyCutter>{whole, split_one(0, 100)}) {
    h = connect_to("relay.example.net", nullptr, false);
    run = play(*h, {head_of_size(HttpConnect::kMaxResponseHead + 1, "tunnel")}, cut);
    ASSERT_EQ(run.progress, ProxyProgress::Failed);
    EXPECT_NE(run.error.find("longer than 16384 bytes"), std::string::npos) << run.error;
    EXPECT_NE(run.error.find("'HTTP/1.1 200 OK'"), std::string::npos) << run.error;
  }
}

TEST(HttpConnectTest, EndlessHeadIsRefusedWithoutWaitingForItsEnd) {
  auto h = connect_to("relay.example.net", nullptr, false);
  std::string endless = "HTTP/1.1 200 OK\r\nX: " + std::string(HttpConnect::kMaxResponseHead, 'a');
  EXPECT_EQ(play(*h, {endless}).progress, ProxyProgress::Failed);
}

TEST(HttpConnectTest, InterimHeadsCountTowardsTheBound) {
  std::string interim = "HTTP/1.1 100 Continue\r\nX: " + std::string(1000, 'a') + "\r\n\r\n";
  std::string many;
  while (many.size() < HttpConnect::kMaxResponseHead) many += interim;
  auto h = connect_to("relay.example.net", nullptr, false);
  ProxyRun run = play(*h, {many + kOk});
  ASSERT_EQ(run.progress, ProxyProgress::Failed);
  EXPECT_NE(run.error.find("longer than"), std::string::npos) << run.error;
}

TEST(HttpConnectTest, ProxyClosingIsAFailureSayingWhen) {
  auto h = connect_to("relay.example.net", nullptr, false);
  ProxyRun run = play(*h, {}, whole, true);
  ASSERT_EQ(run.progress, ProxyProgress::Failed);
  EXPECT_EQ(run.error, "HTTP proxy 192.0.2.7:3128: closed the connection without answering the CONNECT");

  h = connect_to("relay.example.net", nullptr, false);
  run = play(*h, {"HTTP/1.1 200 OK\r\nVia: x\r\n"}, whole, true);
  ASSERT_EQ(run.progress, ProxyProgress::Failed);
  EXPECT_NE(run.error.find("in the middle of its response, which starts 'HTTP/1.1 200 OK'"), std::string::npos);
}

TEST(HttpConnectTest, AnswerBeforeTheRequestIsWrittenIsRefused) {
  auto h = connect_to("relay.example.net", nullptr, false);
  const std::string ok = kOk;
  EXPECT_EQ(h->consume({reinterpret_cast<const uint8_t*>(ok.data()), ok.size()}), ProxyProgress::Failed);
  EXPECT_NE(h->error().find("before our request was complete"), std::string::npos);
  EXPECT_TRUE(h->pending_output().empty());
}

TEST(HttpConnectTest, VerdictIsFinal) {
  auto h = connect_to("relay.example.net", nullptr, false);
  ProxyRun run = play(*h, {kOk + "abc"});
  ASSERT_EQ(run.progress, ProxyProgress::Established);
  const std::string more = "HTTP/1.1 500 Oops\r\n\r\n";
  EXPECT_EQ(h->consume({reinterpret_cast<const uint8_t*>(more.data()), more.size()}), ProxyProgress::Established);
  EXPECT_EQ(h->peer_closed(), ProxyProgress::Established);
  EXPECT_EQ(h->tunnel_bytes().size(), 3u);
}

}  // namespace
}  // namespace dialout
