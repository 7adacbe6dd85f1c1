#include "intermediary/splice_pair.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "netlib/socket.hpp"

namespace dialout {
namespace {

struct Pair {
  UniqueFd outside, inside;  // the test talks on `outside`, the splice owns `inside`
};
Pair socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return {};
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string read_some(int fd) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}
// 0: end of stream; -1: nothing there (EAGAIN); otherwise bytes read.
ssize_t read_state(int fd) {
  char c;
  return ::read(fd, &c, 1);
}
void send_all(int fd, const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }

struct Rig {
  Pair client = socket_pair(), backend = socket_pair();
  SplicePair splice{std::move(client.inside), std::move(backend.inside), 4096, false};
};

TEST(SplicePairTest, CopiesBothWaysUnchanged) {
  Rig r;
  send_all(r.client.outside.get(), "GET / HTTP/1.1\r\n\r\n");
  r.splice.pump(EPOLLIN, 0);
  EXPECT_EQ(read_some(r.backend.outside.get()), "GET / HTTP/1.1\r\n\r\n");
  send_all(r.backend.outside.get(), std::string("HTTP/1.1 200 OK\r\n\r\n\0body", 24));
  auto moved = r.splice.pump(0, EPOLLIN);
  EXPECT_EQ(moved.from_backend, 24u);
  EXPECT_EQ(read_some(r.client.outside.get()), std::string("HTTP/1.1 200 OK\r\n\r\n\0body", 24));
  EXPECT_EQ(r.splice.state(), SplicePair::State::Open);
}

// The buffer bound holds when the backend does not read: the splice stops
// reading the client (no EPOLLIN interest) instead of growing, and every
// byte arrives in order once the backend reads again.
TEST(SplicePairTest, BufferIsBoundedAndNothingIsLost) {
  Rig r;
  std::string sent;
  // Keep the client's socket full while the splice copies, until the
  // backend's socket is full too and the splice's buffer with it.
  for (int round = 0; round < 1000 && r.splice.pending_to_backend() < 4096; ++round) {
    for (int i = 0;; ++i) {
      std::string chunk(1000, char('a' + (sent.size() / 1000) % 26));
      ssize_t n = ::send(r.client.outside.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += chunk.substr(0, size_t(n));
      ASSERT_LT(i, 100000);
    }
    r.splice.pump(EPOLLIN, 0);
  }
  EXPECT_EQ(r.splice.pending_to_backend(), 4096u);
  EXPECT_EQ(r.splice.client_interest() & EPOLLIN, 0u);
  EXPECT_NE(r.splice.backend_interest() & EPOLLOUT, 0u);
  std::string got;
  for (int i = 0; i < 100000 && got.size() < sent.size(); ++i) {
    got += read_some(r.backend.outside.get());
    r.splice.pump(EPOLLIN, EPOLLOUT);
  }
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
  EXPECT_LE(r.splice.pending_to_backend(), 4096u);
}

// A client that half-closes still gets the answer; the pair ends when both
// directions have ended.
TEST(SplicePairTest, HalfClosePropagatesBothWays) {
  Rig r;
  send_all(r.client.outside.get(), "request");
  ::shutdown(r.client.outside.get(), SHUT_WR);
  r.splice.pump(EPOLLIN, 0);
  EXPECT_EQ(read_some(r.backend.outside.get()), "request");
  EXPECT_EQ(read_state(r.backend.outside.get()), 0) << "the backend sees the end of the request";
  EXPECT_EQ(r.splice.state(), SplicePair::State::Open);
  send_all(r.backend.outside.get(), "answer");
  r.splice.pump(0, EPOLLIN);
  EXPECT_EQ(read_some(r.client.outside.get()), "answer");
  EXPECT_EQ(r.splice.state(), SplicePair::State::Open);
  ::shutdown(r.backend.outside.get(), SHUT_WR);
  r.splice.pump(0, EPOLLIN);
  EXPECT_EQ(read_state(r.client.outside.get()), 0);
  EXPECT_EQ(r.splice.state(), SplicePair::State::Done);
  EXPECT_EQ(r.splice.client_interest(), 0u);
}

TEST(SplicePairTest, WriteToAClosedPeerFails) {
  Rig r;
  r.backend.outside.reset();
  send_all(r.client.outside.get(), "x");
  r.splice.pump(EPOLLIN, 0);
  EXPECT_EQ(r.splice.state(), SplicePair::State::Failed);
  EXPECT_NE(r.splice.error().find("write to backend"), std::string::npos) << r.splice.error();
}

uint32_t wait_events(int fd, short want) {
  pollfd p{fd, want, 0};
  for (int i = 0; i < 200; ++i) {
    if (::poll(&p, 1, 10) > 0) break;
  }
  uint32_t ev = 0;
  if (p.revents & POLLOUT) ev |= EPOLLOUT;
  if (p.revents & POLLIN) ev |= EPOLLIN;
  if (p.revents & POLLERR) ev |= EPOLLERR;
  if (p.revents & POLLHUP) ev |= EPOLLHUP;
  return ev;
}

// Bytes the client sent while the backend connect was in flight are sent
// once it completes; a refused connect fails the pair.
TEST(SplicePairTest, NonBlockingConnect) {
  auto listener = tcp_listen(Endpoint{"127.0.0.1", 0}, 4);
  ASSERT_TRUE(listener) << listener.error();
  uint16_t port = local_endpoint(listener->get())->port;
  Pair client = socket_pair();
  send_all(client.outside.get(), "early bytes");
  auto backend = tcp_connect_start(Endpoint{"127.0.0.1", port});
  ASSERT_TRUE(backend) << backend.error();
  int bfd = backend->get();
  SplicePair splice(std::move(client.inside), std::move(*backend), 4096, true);
  EXPECT_EQ(splice.state(), SplicePair::State::Connecting);
  EXPECT_EQ(splice.backend_interest(), uint32_t(EPOLLOUT));
  splice.pump(EPOLLIN, 0);  // reads the client's bytes, writes nothing yet
  EXPECT_EQ(splice.pending_to_backend(), 11u);
  splice.pump(0, wait_events(bfd, POLLOUT));
  EXPECT_EQ(splice.state(), SplicePair::State::Open);
  UniqueFd accepted;
  for (int i = 0; i < 200 && !accepted.valid(); ++i) {
    wait_events(listener->get(), POLLIN);
    accepted = std::move(*tcp_accept(listener->get()));
  }
  ASSERT_TRUE(accepted.valid());
  wait_events(accepted.get(), POLLIN);
  EXPECT_EQ(read_some(accepted.get()), "early bytes");

  listener->reset();  // nothing listens there any more
  Pair client2 = socket_pair();
  auto refused = tcp_connect_start(Endpoint{"127.0.0.1", port});
  ASSERT_TRUE(refused) << refused.error();
  int rfd = refused->get();
  SplicePair failing(std::move(client2.inside), std::move(*refused), 4096, true);
  failing.pump(0, wait_events(rfd, POLLOUT));
  EXPECT_EQ(failing.state(), SplicePair::State::Failed);
  EXPECT_NE(failing.error().find("connect to backend"), std::string::npos) << failing.error();
}

}  // namespace
}  // namespace dialout
