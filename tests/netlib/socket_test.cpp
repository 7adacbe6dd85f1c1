#include "netlib/socket.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace dialout {
namespace {

struct EndpointCase {
  const char* text;
  bool valid;
  const char* host;
  uint16_t port;
};

TEST(Endpoint, ParseTable) {
  const EndpointCase cases[] = {
      {"127.0.0.1:443", true, "127.0.0.1", 443},
      {"relay.example.com:8443", true, "relay.example.com", 8443},
      {"relay.example.com", true, "relay.example.com", 443},  // default port
      {"[::1]:444", true, "::1", 444},
      {"[fd00::1]", true, "fd00::1", 443},
      {"::1", true, "::1", 443},  // bare v6 literal, default port
      {"0.0.0.0:0", true, "0.0.0.0", 0},
      {"host:65535", true, "host", 65535},
      {"host:65536", false, "", 0},
      {"host:", false, "", 0},
      {"host:12a", false, "", 0},
      {"host:-1", false, "", 0},
      {"host:000443", false, "", 0},  // more than 5 digits
      {":443", false, "", 0},
      {"", false, "", 0},
      {"[::1", false, "", 0},
      {"[::1]x", false, "", 0},
      {"[relay]:443", false, "", 0},
      {"fd00::1:443", true, "fd00::1:443", 443},  // valid v6 literal, no port
      {"fd00::g:443", false, "", 0},
      {"bad host:443", false, "", 0},
  };
  for (const auto& c : cases) {
    auto ep = Endpoint::parse(c.text, 443);
    ASSERT_EQ(ep.has_value(), c.valid) << c.text;
    if (c.valid) {
      EXPECT_EQ(ep->host, c.host) << c.text;
      EXPECT_EQ(ep->port, c.port) << c.text;
    } else {
      // The error names the input so a config mistake is easy to find.
      EXPECT_NE(ep.error().find(std::string("\"") + c.text + "\""), std::string::npos) << ep.error();
    }
  }
}

TEST(Endpoint, ToStringBracketsV6) {
  EXPECT_EQ((Endpoint{"::1", 443}).to_string(), "[::1]:443");
  EXPECT_EQ((Endpoint{"10.0.0.1", 80}).to_string(), "10.0.0.1:80");
  auto round = Endpoint::parse((Endpoint{"fd00::2", 8443}).to_string(), 1);
  ASSERT_TRUE(round.has_value());
  EXPECT_EQ(*round, (Endpoint{"fd00::2", 8443}));
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

void connect_accept_roundtrip(const char* listen_host) {
  auto lfd = tcp_listen(Endpoint{listen_host, 0}, 16);
  ASSERT_TRUE(lfd.has_value()) << lfd.error();
  auto bound = local_endpoint(lfd->get());
  ASSERT_TRUE(bound.has_value()) << bound.error();
  ASSERT_NE(bound->port, 0);

  // Nothing pending yet: a value with no fd, not an error.
  auto none = tcp_accept(lfd->get());
  ASSERT_TRUE(none.has_value()) << none.error();
  EXPECT_FALSE(none->valid());

  auto cfd = tcp_connect_start(*bound);
  ASSERT_TRUE(cfd.has_value()) << cfd.error();
  ASSERT_TRUE(wait_for(cfd->get(), POLLOUT, 2000));
  auto err = socket_error(cfd->get());
  ASSERT_TRUE(err.has_value()) << err.error();

  ASSERT_TRUE(wait_for(lfd->get(), POLLIN, 2000));
  auto sfd = tcp_accept(lfd->get());
  ASSERT_TRUE(sfd.has_value()) << sfd.error();
  ASSERT_TRUE(sfd->valid());

  tune_data_socket(cfd->get());
  int v = 0;
  socklen_t len = sizeof v;
  ASSERT_EQ(::getsockopt(cfd->get(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v, &len), 0);
  EXPECT_EQ(v, kNotSentLowat);
  ASSERT_EQ(::getsockopt(cfd->get(), IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
  EXPECT_NE(v, 0);
  ASSERT_EQ(::getsockopt(cfd->get(), SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
  EXPECT_NE(v, 0);

  ASSERT_EQ(::send(cfd->get(), "ping", 4, 0), 4);
  ASSERT_TRUE(wait_for(sfd->get(), POLLIN, 2000));
  char buf[8] = {};
  ASSERT_EQ(::recv(sfd->get(), buf, sizeof buf, 0), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");

  auto peer = peer_endpoint(sfd->get());
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->host, bound->host);
}

TEST(Socket, LoopbackV4) { connect_accept_roundtrip("127.0.0.1"); }
TEST(Socket, LoopbackV6) {
  auto probe = tcp_listen(Endpoint{"::1", 0}, 1);
  if (!probe) GTEST_SKIP() << "no IPv6 loopback: " << probe.error();
  connect_accept_roundtrip("::1");
}

TEST(Socket, WildcardV6ListensDualStackAndShowsIpv4PeersPlain) {
  auto lfd = tcp_listen(Endpoint{"::", 0}, 4);
  if (!lfd) GTEST_SKIP() << "no IPv6: " << lfd.error();
  int v6only = -1;
  socklen_t len = sizeof v6only;
  ASSERT_EQ(::getsockopt(lfd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
  EXPECT_EQ(v6only, 0);
  uint16_t port = local_endpoint(lfd->get())->port;
  auto cfd = tcp_connect_start(Endpoint{"127.0.0.1", port});
  ASSERT_TRUE(cfd.has_value()) << cfd.error();
  ASSERT_TRUE(wait_for(lfd->get(), POLLIN, 2000));
  auto sfd = tcp_accept(lfd->get());
  ASSERT_TRUE(sfd.has_value() && sfd->valid());
  auto peer = peer_endpoint(sfd->get());
  ASSERT_TRUE(peer.has_value()) << peer.error();
  EXPECT_EQ(peer->host, "127.0.0.1");  // not ::ffff:127.0.0.1
  auto local = local_endpoint(sfd->get());
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->host, "127.0.0.1");
}

TEST(Socket, Ipv4ListenFallbackTable) {
  struct Case {
    const char* host;
    int err;
    bool falls_back;
  };
  const Case cases[] = {
      {"::", EAFNOSUPPORT, true},      // kernel without IPv6
      {"::", EPROTONOSUPPORT, true},
      {"::", EADDRNOTAVAIL, true},
      {"0::0", EAFNOSUPPORT, true},    // another spelling of the wildcard
      {"::", EADDRINUSE, false},       // a real error: IPv4 would hide it
      {"::", EACCES, false},
      {"::1", EAFNOSUPPORT, false},    // a chosen address is not replaced
      {"2001:db8::1", EADDRNOTAVAIL, false},
      {"0.0.0.0", EAFNOSUPPORT, false},
  };
  for (const auto& c : cases) {
    auto v4 = ipv4_listen_fallback(Endpoint{c.host, 443}, c.err);
    EXPECT_EQ(v4.has_value(), c.falls_back) << c.host << " " << c.err;
    if (v4) {
      EXPECT_EQ(*v4, (Endpoint{"0.0.0.0", 443})) << c.host;
    }
  }
  EXPECT_TRUE(is_ipv6_wildcard(Endpoint{"::", 0}));
  EXPECT_FALSE(is_ipv6_wildcard(Endpoint{"::1", 0}));
  EXPECT_FALSE(is_ipv6_wildcard(Endpoint{"intermediary", 0}));
}

TEST(Socket, ListenOrIpv4PassesRealErrorsThrough) {
  auto a = tcp_listen(Endpoint{"127.0.0.1", 0}, 1);
  ASSERT_TRUE(a.has_value());
  Endpoint taken = *local_endpoint(a->get());
  auto b = tcp_listen_or_ipv4(taken, 1);
  ASSERT_FALSE(b.has_value());
  auto c = tcp_listen_or_ipv4(Endpoint{"127.0.0.1", 0}, 1);
  ASSERT_TRUE(c.has_value()) << c.error();
  EXPECT_TRUE(c->fallback.empty());
}

TEST(Socket, ConnectRefusedShowsInSocketError) {
  // Grab a free port, then close it so nothing listens there.
  uint16_t port;
  {
    auto lfd = tcp_listen(Endpoint{"127.0.0.1", 0}, 1);
    ASSERT_TRUE(lfd.has_value());
    port = local_endpoint(lfd->get())->port;
  }
  auto cfd = tcp_connect_start(Endpoint{"127.0.0.1", port});
  ASSERT_TRUE(cfd.has_value()) << cfd.error();
  ASSERT_TRUE(wait_for(cfd->get(), POLLOUT, 2000));
  auto err = socket_error(cfd->get());
  ASSERT_FALSE(err.has_value());
  EXPECT_NE(err.error().find("refused"), std::string::npos) << err.error();
}

TEST(Socket, ListenErrorsNameTheEndpoint) {
  auto a = tcp_listen(Endpoint{"127.0.0.1", 0}, 1);
  ASSERT_TRUE(a.has_value());
  Endpoint taken = *local_endpoint(a->get());
  auto b = tcp_listen(taken, 1);  // SO_REUSEADDR does not allow two listeners
  ASSERT_FALSE(b.has_value());
  EXPECT_NE(b.error().find(taken.to_string()), std::string::npos) << b.error();

  auto c = tcp_connect_start(Endpoint{"127.0.0.1", 0});
  ASSERT_FALSE(c.has_value());
}

TEST(Socket, ResolvesNames) {
  auto lfd = tcp_listen(Endpoint{"localhost", 0}, 4);
  ASSERT_TRUE(lfd.has_value()) << lfd.error();
  auto bound = local_endpoint(lfd->get());
  ASSERT_TRUE(bound.has_value());
  auto bad = tcp_connect_start(Endpoint{"no-such-host.invalid", 443});
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("no-such-host.invalid"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace dialout
