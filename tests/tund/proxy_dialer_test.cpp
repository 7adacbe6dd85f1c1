// ProxyDialer + ProxyTransport against a scripted proxy on a loopback
// listener: the real socket path (non-blocking connect, partial reads, the
// hand-over to TLS on the same fd). The test plays the proxy with blocking
// calls on the accepted socket and waits for readiness with poll(), never
// with sleeps.
#include "tund/proxy_dialer.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <string>

#include "netlib/socket.hpp"
#include "tests/support/test_pki.hpp"
#include "tund/http_connect.hpp"

namespace dialout {
namespace {

class ProxyDialerTest : public ::testing::Test {
 protected:
  ProxyDialerTest() : tls_(std::move(*TlsContext::client(pki_.client_files("office-a")))), log_("test", LogLevel::Info, [this](std::string_view l) { lines_.emplace_back(l); }) {
    auto l = tcp_listen(Endpoint{"127.0.0.1", 0}, 8);
    EXPECT_TRUE(l);
    listener_ = std::move(*l);
    proxy_at_ = *local_endpoint(listener_.get());
  }

  ProxyRoute route(ProxyScheme scheme, bool with_credentials) {
    ProxyRoute r;
    r.server.scheme = scheme;
    r.server.address = Endpoint{"proxy.example", 3128};
    if (with_credentials) r.credentials = std::make_shared<ProxyCredentials>(ProxyCredentials{"alice", "s3cret"});
    return r;
  }

  // Starts a dial and accepts it on the proxy side.
  std::unique_ptr<StreamTransport> dial(ProxyDialer& d) {
    auto t = d.dial(proxy_at_, "intermediary");
    EXPECT_TRUE(t) << (t ? "" : t.error());
    auto fd = ::accept(listener_.get(), nullptr, nullptr);
    EXPECT_GE(fd, 0);
    peer_ = UniqueFd(fd);
    return std::move(*t);
  }

  // Drives handshake() until it waits for the proxy (or ends).
  IoStatus drive(StreamTransport& t) {
    IoStatus st = IoStatus::WantWrite;
    for (int i = 0; i < 1000; ++i) {
      st = t.handshake();
      if (st != IoStatus::WantWrite) return st;
      pollfd p{t.fd(), POLLOUT, 0};
      ::poll(&p, 1, 1000);
    }
    return st;
  }

  // Reads what the client sent until `until` shows up (or n bytes for binary).
  std::string read_request(const std::string& until) {
    std::string got;
    char buf[4096];
    while (got.find(until) == std::string::npos) {
      ssize_t n = ::recv(peer_.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  std::string read_bytes(size_t want) {
    std::string got;
    char buf[4096];
    while (got.size() < want) {
      ssize_t n = ::recv(peer_.get(), buf, std::min(sizeof buf, want - got.size()), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  // Writes `bytes` to the client and waits until they can be read there.
  void reply(StreamTransport& t, const std::string& bytes) {
    ASSERT_EQ(::send(peer_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
    pollfd p{t.fd(), POLLIN, 0};
    ::poll(&p, 1, 1000);
  }

  // The first byte of a TLS handshake record: TLS now runs inside the tunnel.
  void expect_client_hello() {
    auto first = read_bytes(3);
    ASSERT_EQ(first.size(), 3u);
    EXPECT_EQ(static_cast<uint8_t>(first[0]), 0x16);
    EXPECT_EQ(static_cast<uint8_t>(first[1]), 0x03);
  }

  TestPki pki_;
  TlsContext tls_;
  std::vector<std::string> lines_;
  Logger log_;
  UniqueFd listener_, peer_;
  Endpoint proxy_at_;
  Endpoint target_{"relay.example.net", 443};
};

const std::string kOk = "HTTP/1.1 200 Connection established\r\n\r\n";
const std::string k407 =
    "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";

TEST_F(ProxyDialerTest, HttpConnectThenTlsOnTheSameSocket) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  auto t = dial(d);
  int fd = t->fd();
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  auto req = read_request("\r\n\r\n");
  EXPECT_EQ(req.rfind("CONNECT relay.example.net:443 HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_EQ(req.find("Proxy-Authorization"), std::string::npos);
  reply(*t, kOk);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);  // TLS waits for the ServerHello
  EXPECT_EQ(t->fd(), fd);
  expect_client_hello();
}

TEST_F(ProxyDialerTest, ResponseSplitAcrossReads) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  read_request("\r\n\r\n");
  for (size_t at = 0; at + 1 < kOk.size(); at += 7) {
    reply(*t, kOk.substr(at, 7));
    EXPECT_EQ(drive(*t), IoStatus::WantRead) << at;
    if (at + 7 < kOk.size()) {
      pollfd p{peer_.get(), POLLIN, 0};
      EXPECT_EQ(::poll(&p, 1, 0), 0) << "TLS started before the head was complete, at " << at;
    }
  }
  expect_client_hello();
}

TEST_F(ProxyDialerTest, A407IsAnsweredOnceOnTheNextDial) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, true), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  EXPECT_EQ(read_request("\r\n\r\n").find("Proxy-Authorization"), std::string::npos);
  reply(*t, k407);
  EXPECT_EQ(drive(*t), IoStatus::Error);
  EXPECT_NE(t->last_error().find("407"), std::string::npos) << t->last_error();

  auto again = dial(d);
  EXPECT_EQ(drive(*again), IoStatus::WantRead);
  auto req = read_request("\r\n\r\n");
  // base64("alice:s3cret")
  EXPECT_NE(req.find("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"), std::string::npos) << req;
  reply(*again, kOk);
  EXPECT_EQ(drive(*again), IoStatus::WantRead);
  expect_client_hello();
}

TEST_F(ProxyDialerTest, A407ToCredentialsFailsNamingTheProxyNotTheSecret) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, true), target_, log_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto t = dial(d);
    EXPECT_EQ(drive(*t), IoStatus::WantRead);
    read_request("\r\n\r\n");
    reply(*t, k407);
    EXPECT_EQ(drive(*t), IoStatus::Error);
    if (attempt == 1) {
      auto e = t->last_error();
      EXPECT_NE(e.find("proxy.example:3128"), std::string::npos) << e;
      EXPECT_NE(e.find("407 Proxy Authentication Required"), std::string::npos) << e;
      EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
      EXPECT_EQ(e.find("YWxpY2U6czNjcmV0"), std::string::npos) << e;
    }
  }
  // The first 407 only asks for credentials; the refusal is logged once.
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("407 Proxy Authentication Required"), std::string::npos) << lines_[0];
  EXPECT_EQ(lines_[0].find("s3cret"), std::string::npos) << lines_[0];
}

TEST_F(ProxyDialerTest, TheSameRefusalIsLoggedOncePerChange) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  for (const char* status : {"403 Forbidden", "403 Forbidden", "502 Bad Gateway"}) {
    auto t = dial(d);
    EXPECT_EQ(drive(*t), IoStatus::WantRead);
    read_request("\r\n\r\n");
    reply(*t, std::string("HTTP/1.1 ") + status + "\r\n\r\n");
    EXPECT_EQ(drive(*t), IoStatus::Error);
  }
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[0].find("403 Forbidden"), std::string::npos) << lines_[0];
  EXPECT_NE(lines_[1].find("502 Bad Gateway"), std::string::npos) << lines_[1];
}

TEST_F(ProxyDialerTest, RefusalsAndBrokenAnswersFail) {
  struct Case {
    std::string reply;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"HTTP/1.1 403 Forbidden\r\n\r\n", "403 Forbidden"},
      {"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", "502 Bad Gateway"},
      {"HTTP/1.1 200 OK\r\n" + std::string(HttpConnect::kMaxResponseHead + 10, 'x'), "proxy.example:3128"},
      {"SSH-2.0-OpenSSH_9.2\r\n", "proxy.example:3128"},
  };
  for (const auto& c : cases) {
    ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
    auto t = dial(d);
    EXPECT_EQ(drive(*t), IoStatus::WantRead);
    read_request("\r\n\r\n");
    reply(*t, c.reply);
    EXPECT_EQ(drive(*t), IoStatus::Error) << c.expect;
    EXPECT_NE(t->last_error().find(c.expect), std::string::npos) << t->last_error();
  }
}

TEST_F(ProxyDialerTest, ProxyClosingIsAFailure) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  read_request("\r\n\r\n");
  peer_.reset();
  pollfd p{t->fd(), POLLIN, 0};
  ::poll(&p, 1, 1000);
  EXPECT_EQ(drive(*t), IoStatus::Error);
  EXPECT_NE(t->last_error().find("proxy.example:3128"), std::string::npos) << t->last_error();
}

TEST_F(ProxyDialerTest, BytesBeforeOurClientHelloAreRefused) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  read_request("\r\n\r\n");
  reply(*t, kOk + "junk");
  EXPECT_EQ(drive(*t), IoStatus::Error);
  EXPECT_NE(t->last_error().find("before the TLS handshake"), std::string::npos) << t->last_error();
}

TEST_F(ProxyDialerTest, Socks5WithPasswordSendsTheNameThenRunsTls) {
  ProxyDialer d(tls_, route(ProxyScheme::Socks5, true), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  EXPECT_EQ(read_bytes(4), std::string("\x05\x02\x00\x02", 4));
  reply(*t, std::string("\x05\x02", 2));
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  EXPECT_EQ(read_bytes(3 + 5 + 6), std::string("\x01\x05" "alice" "\x06" "s3cret", 14));
  reply(*t, std::string("\x01\x00", 2));
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  std::string name = "relay.example.net";
  auto connect = read_bytes(5 + name.size() + 2);
  EXPECT_EQ(connect, std::string("\x05\x01\x00\x03\x11", 5) + name + std::string("\x01\xbb", 2));
  reply(*t, std::string("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10));
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  expect_client_hello();
}

TEST_F(ProxyDialerTest, Socks5RefusedPasswordFails) {
  ProxyDialer d(tls_, route(ProxyScheme::Socks5, true), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  read_bytes(4);
  reply(*t, std::string("\x05\x02", 2));
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  read_bytes(14);
  reply(*t, std::string("\x01\x01", 2));
  EXPECT_EQ(drive(*t), IoStatus::Error);
  EXPECT_NE(t->last_error().find("proxy.example:3128"), std::string::npos) << t->last_error();
  EXPECT_EQ(t->last_error().find("s3cret"), std::string::npos) << t->last_error();
}

TEST_F(ProxyDialerTest, NoBytesMoveBeforeSetUpIsDone) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  auto t = dial(d);
  EXPECT_EQ(drive(*t), IoStatus::WantRead);
  uint8_t b[4];
  auto r = t->read(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), IoStatus::Error);
  auto w = t->write(std::span<const uint8_t>(b, 4));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error(), IoStatus::Error);
}

TEST_F(ProxyDialerTest, RefusesANameForTheProxyAddress) {
  ProxyDialer d(tls_, route(ProxyScheme::Http, false), target_, log_);
  auto t = d.dial(Endpoint{"proxy.example", 3128}, "intermediary");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("not a numeric address"), std::string::npos) << t.error();
}

}  // namespace
}  // namespace dialout
