#include "intermediary/port_share.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "netlib/socket.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;

std::string hello_with_alpn(const std::string& wire) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!wire.empty())
    SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()), unsigned(wire.size()));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);
  SSL_set_connect_state(ssl.get());
  (void)SSL_do_handshake(ssl.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  return n > 0 ? std::string(data, size_t(n)) : std::string();
}

// One front on a real loop, a real TCP "web server" on 127.0.0.1, and
// clients on socketpairs handed to take() as if just accepted.
struct Rig {
  EventLoop loop;
  Logger log{"test", LogLevel::Error, [](std::string_view) {}};
  UniqueFd web;
  RelayConfig config;
  std::vector<UniqueFd> to_relay;
  std::unique_ptr<PortShare> share;

  explicit Rig(unsigned max_connections = 8) {
    auto l = tcp_listen(Endpoint{"127.0.0.1", 0}, 16);
    if (!l) throw std::runtime_error(l.error());
    web = std::move(*l);
    config.share_port_backend = Endpoint{"127.0.0.1", local_endpoint(web.get())->port};
    config.share_port_max_connections = max_connections;
    config.share_port_buffer_bytes = 4096;
    config.handshake_timeout = 200ms;
    share = std::make_unique<PortShare>(loop, config, [this](UniqueFd fd) { to_relay.push_back(std::move(fd)); },
                                        log);
    share->start();
  }
  // Returns the test's end; the other end goes to the front.
  UniqueFd connect(const std::string& first_bytes) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return {};
    if (!first_bytes.empty()) (void)::send(fds[0], first_bytes.data(), first_bytes.size(), MSG_NOSIGNAL);
    share->take(UniqueFd(fds[1]));
    return UniqueFd(fds[0]);
  }
  uint64_t counter(ShareCounter c) const { return share->counters()[size_t(c)]; }
  // Runs the loop until `done` (bounded: about 3 s).
  bool run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 300; ++i) {
      if (done()) return true;
      loop.run_once(10ms);
    }
    return done();
  }
};

// Polls a (non-blocking) fd until it has `want` bytes or ends.
std::string read_until(int fd, size_t want) {
  std::string got;
  for (int i = 0; i < 300 && got.size() < want; ++i) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) got.append(buf, size_t(n));
    if (n == 0) break;
    if (n < 0) ::usleep(10000);
  }
  return got;
}

bool at_eof(int fd) {
  for (int i = 0; i < 300; ++i) {
    char c;
    ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    if (n > 0) return false;
    ::usleep(10000);
  }
  return false;
}

TEST(PortShareTest, SiteGoesToTheRelayWithNothingConsumed) {
  Rig r;
  const std::string hello = hello_with_alpn(std::string("\x02h2\x09" "dialout/1", 13));
  // In two pieces: the first half leaves it waiting (edge-triggered peek).
  UniqueFd site = r.connect(hello.substr(0, 40));
  r.loop.run_once(20ms);
  EXPECT_EQ(r.share->waiting(), 1u);
  ASSERT_EQ(::send(site.get(), hello.data() + 40, hello.size() - 40, MSG_NOSIGNAL), ssize_t(hello.size() - 40));
  ASSERT_TRUE(r.run_until([&] { return r.to_relay.size() == 1; }));
  EXPECT_EQ(r.share->waiting(), 0u);
  EXPECT_EQ(read_until(r.to_relay[0].get(), hello.size()), hello) << "the relay reads the hello from its first byte";
  EXPECT_EQ(r.counter(ShareCounter::ToRelay), 1u);
}

TEST(PortShareTest, BrowserIsSplicedToTheWebServer) {
  Rig r;
  const std::string hello = hello_with_alpn(std::string("\x02h2", 3));
  UniqueFd browser = r.connect(hello);
  ASSERT_TRUE(r.run_until([&] { return r.counter(ShareCounter::ToBackend) == 1; }));
  UniqueFd server;
  for (int i = 0; i < 300 && !server.valid(); ++i) {
    server = std::move(*tcp_accept(r.web.get()));
    ::usleep(10000);
  }
  ASSERT_TRUE(server.valid());
  EXPECT_EQ(read_until(server.get(), hello.size()), hello);
  ASSERT_EQ(::send(server.get(), "reply", 5, MSG_NOSIGNAL), 5);
  EXPECT_EQ(read_until(browser.get(), 5), "reply");
  server.reset();  // the web server closes: the browser sees the end of its stream
  EXPECT_TRUE(at_eof(browser.get()));
  EXPECT_EQ(r.share->spliced(), 1u) << "half-closed: the browser may still send";
  browser.reset();  // and once the browser closes too, the splice is gone
  for (int i = 0; i < 300 && r.share->spliced() != 0; ++i) ::usleep(10000);
  EXPECT_EQ(r.share->spliced(), 0u);
  EXPECT_EQ(r.counter(ShareCounter::BytesToBackend), hello.size());
  EXPECT_EQ(r.counter(ShareCounter::BytesFromBackend), 5u);
}

TEST(PortShareTest, GarbageSilenceAndEarlyCloseAreDroppedAndCounted) {
  Rig r;
  UniqueFd garbage = r.connect(std::string("\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", 10));
  UniqueFd silent = r.connect("");
  UniqueFd partial = r.connect(std::string("\x16\x03\x01\x00\x40\x01", 6));
  ::shutdown(partial.get(), SHUT_WR);
  r.loop.run_once(10ms);
  EXPECT_EQ(r.counter(ShareCounter::DropMalformed), 1u);
  EXPECT_TRUE(at_eof(garbage.get()));
  ASSERT_TRUE(r.run_until([&] { return r.counter(ShareCounter::DropClosed) == 1; }));
  EXPECT_EQ(r.counter(ShareCounter::DropTimeout), 0u);
  ASSERT_TRUE(r.run_until([&] { return r.counter(ShareCounter::DropTimeout) == 1; }));
  EXPECT_TRUE(at_eof(silent.get()));
  EXPECT_EQ(r.share->waiting(), 0u);
  EXPECT_TRUE(r.to_relay.empty());
  EXPECT_EQ(r.counter(ShareCounter::ToBackend), 0u);
}

TEST(PortShareTest, WaitingConnectionsAreBounded) {
  Rig r(2);
  UniqueFd a = r.connect(""), b = r.connect(""), c = r.connect("");
  EXPECT_EQ(r.share->waiting(), 2u);
  EXPECT_EQ(r.counter(ShareCounter::RefusedFull), 1u);
  EXPECT_TRUE(at_eof(c.get()));
}

TEST(PortShareTest, StatusRowsFollowTheTable) {
  Rig r;
  std::vector<std::pair<std::string_view, uint64_t>> rows;
  r.share->append_status(rows);
  ASSERT_EQ(rows.size(), kShareCounters.size());
  EXPECT_EQ(rows.front().first, "share_to_relay");
}

}  // namespace
}  // namespace dialout
