#include "netlib/tls_transport.hpp"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>

#include "tests/support/test_pki.hpp"

namespace dialout {
namespace {

using Clock = std::chrono::steady_clock;

bool finished(IoStatus s) { return s == IoStatus::Done || s == IoStatus::Error || s == IoStatus::Closed; }

// Drives a client transport (connect + handshake) and the server side of
// the accepted socket on this thread until both finish; bounded.
struct Drive {
  IoStatus client = IoStatus::WantWrite, server = IoStatus::WantRead;
};
Drive drive(TlsTransport& client, int listen_fd, TlsContext& server_ctx, std::unique_ptr<TlsTransport>& server) {
  Drive d;
  auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline && !(finished(d.client) && (server == nullptr || finished(d.server)))) {
    if (!finished(d.client)) d.client = client.handshake();
    if (!server) {
      if (auto fd = tcp_accept(listen_fd); fd && fd->valid()) server = std::move(*TlsTransport::accept(server_ctx, std::move(*fd)));
    }
    if (server && !finished(d.server)) d.server = server->handshake();
    if (d.client == IoStatus::Error && !server) break;
    pollfd p[2] = {{client.fd(), short(d.client == IoStatus::WantWrite ? POLLOUT : POLLIN), 0},
                   {server ? server->fd() : listen_fd, POLLIN, 0}};
    ::poll(p, 2, 10);
  }
  return d;
}

TEST(TlsTransport, DialsConnectsAndHandshakesThenCarriesBytes) {
  TestPki pki;
  auto server_ctx = TlsContext::server(pki.server_files());
  auto client_ctx = TlsContext::client(pki.client_files("site-a"));
  ASSERT_TRUE(server_ctx && client_ctx);
  auto lfd = tcp_listen(Endpoint{"127.0.0.1", 0}, 4);
  ASSERT_TRUE(lfd);
  auto client = TlsTransport::dial(*client_ctx, *local_endpoint(lfd->get()), "intermediary");
  ASSERT_TRUE(client) << client.error();
  EXPECT_EQ((*client)->tls(), nullptr) << "TLS starts only once TCP is connected";
  std::unique_ptr<TlsTransport> server;
  auto d = drive(**client, lfd->get(), *server_ctx, server);
  ASSERT_EQ(d.client, IoStatus::Done) << (*client)->last_error();
  ASSERT_EQ(d.server, IoStatus::Done) << server->last_error();
  EXPECT_FALSE((*client)->resumed());
  ASSERT_NE(server->peer_certificate(), nullptr) << "the server sees the client's certificate";

  const std::vector<uint8_t> hello = {1, 2, 3, 4};
  ASSERT_EQ(*(*client)->write(hello), hello.size());
  std::vector<uint8_t> got(16);
  Expected<size_t, IoStatus> n = unexpected(IoStatus::WantRead);
  for (int i = 0; i < 200 && !n; ++i) {
    n = server->read(got);
    pollfd p{server->fd(), POLLIN, 0};
    if (!n) ::poll(&p, 1, 10);
  }
  ASSERT_TRUE(n);
  got.resize(*n);
  EXPECT_EQ(got, hello);
}

TEST(TlsTransport, RefusedConnectIsAnErrorThatSaysSo) {
  TestPki pki;
  auto client_ctx = TlsContext::client(pki.client_files("site-a"));
  ASSERT_TRUE(client_ctx);
  // A port nobody listens on: bind one, learn it, close it.
  Endpoint closed;
  {
    auto lfd = tcp_listen(Endpoint{"127.0.0.1", 0}, 1);
    ASSERT_TRUE(lfd);
    closed = *local_endpoint(lfd->get());
  }
  auto client = TlsTransport::dial(*client_ctx, closed, "intermediary");
  ASSERT_TRUE(client) << client.error();
  IoStatus st = IoStatus::WantWrite;
  for (int i = 0; i < 200 && st == IoStatus::WantWrite; ++i) {
    pollfd p{(*client)->fd(), POLLOUT, 0};
    ::poll(&p, 1, 10);
    st = (*client)->handshake();
  }
  EXPECT_EQ(st, IoStatus::Error);
  EXPECT_NE((*client)->last_error().find("refused"), std::string::npos) << (*client)->last_error();
}

}  // namespace
}  // namespace dialout
