#include "netlib/control_socket.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace dialout {
namespace {

namespace fs = std::filesystem;

class ControlSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "control_socket_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/ctl.sock";  // the directory does not exist yet
  }
  void TearDown() override { fs::remove_all(dir_); }

  UniqueFd connect_client() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), path_.size());
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    return fd;
  }
  // Sends `request`, runs the loop until the daemon closes (bounded), returns what came back.
  std::string exchange(const std::string& request, int fd) {
    size_t sent = 0;
    std::string got;
    bool eof = false;
    for (int i = 0; i < 500 && !eof; ++i) {
      if (sent < request.size()) {
        ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n > 0) sent += size_t(n);
      }
      loop_.run_once(std::chrono::milliseconds(5));
      char buf[65536];
      for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          got.append(buf, size_t(n));
          continue;
        }
        if (n == 0) eof = true;
        break;
      }
    }
    EXPECT_TRUE(eof) << "the daemon never closed";
    return got;
  }

  std::unique_ptr<ControlSocket> serve() {
    auto fd = open_control_socket(path_, "");
    EXPECT_TRUE(fd) << fd.error();
    return std::make_unique<ControlSocket>(loop_, std::move(*fd), path_, [this](const ControlRequest& r) {
      ++handled_;
      return ControlReply{true, std::string(to_string(r.verb)) + (r.json ? " json" : "") + " " + r.argument + "\n"};
    });
  }

  EventLoop loop_;
  std::string dir_, path_;
  int handled_ = 0;
};

TEST_F(ControlSocketTest, AnswersOneRequestPerConnection) {
  auto server = serve();
  struct stat st{};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // no control-group: root (the owner) only
  ASSERT_EQ(::stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  struct Case {
    std::string request, reply;
  } cases[] = {
      {"status\n", "ok\nstatus \n"},
      {"kill office-b --json\n", "ok\nkill json office-b\n"},
      {"bogus\n", "error unknown command 'bogus' (expected status, routes, kill or reload)\n"},
      {"status", "ok\nstatus \n"},  // no newline: the request ends where the client shut its side
  };
  for (const auto& c : cases) {
    auto fd = connect_client();
    if (!c.request.ends_with('\n')) {
      ASSERT_EQ(::send(fd.get(), c.request.data(), c.request.size(), MSG_NOSIGNAL), ssize_t(c.request.size()));
      ::shutdown(fd.get(), SHUT_WR);
      EXPECT_EQ(exchange("", fd.get()), c.reply);
    } else {
      EXPECT_EQ(exchange(c.request, fd.get()), c.reply) << c.request;
    }
  }
  EXPECT_EQ(handled_, 3);
  EXPECT_EQ(server->stats().served, 4u);
}

TEST_F(ControlSocketTest, OversizedRequestGetsAnErrorAndTheServerGoesOn) {
  auto server = serve();
  auto fd = connect_client();
  std::string huge(3 * kMaxControlRequest, 'a');  // no newline at all
  std::string reply = exchange(huge, fd.get());
  EXPECT_EQ(reply, "error request over 4096 bytes\n");
  EXPECT_EQ(handled_, 0);
  EXPECT_EQ(server->stats().oversized, 1u);
  auto again = connect_client();
  EXPECT_EQ(exchange("routes\n", again.get()), "ok\nroutes \n");
  // Each waits, after its reply, for the client to close (so the client
  // reads the reply, not a reset); then it is gone.
  fd.reset();
  again.reset();
  for (int i = 0; i < 100 && server->clients() > 0; ++i) loop_.run_once(std::chrono::milliseconds(5));
  EXPECT_EQ(server->clients(), 0u);
}

TEST_F(ControlSocketTest, SilentClientsAreClosedAndBounded) {
  auto fd = open_control_socket(path_, "");
  ASSERT_TRUE(fd) << fd.error();
  RequestServer::Limits limits;
  limits.max_clients = 2;
  limits.timeout = std::chrono::milliseconds(50);
  RequestServer server(
      loop_, std::move(*fd), limits, [](std::string_view in) { return in.find('\n') + 1; },
      [](std::string_view) { return std::string("ok\n"); }, "error too big\n");
  UniqueFd a = connect_client(), b = connect_client(), c = connect_client();
  for (int i = 0; i < 20 && server.clients() + server.stats().refused_busy < 3; ++i)
    loop_.run_once(std::chrono::milliseconds(5));
  EXPECT_EQ(server.clients(), 2u);
  EXPECT_EQ(server.stats().refused_busy, 1u);
  for (int i = 0; i < 200 && server.clients() > 0; ++i) loop_.run_once(std::chrono::milliseconds(5));
  EXPECT_EQ(server.clients(), 0u);
  EXPECT_EQ(server.stats().timed_out, 2u);
}

TEST_F(ControlSocketTest, StaleSocketIsReplacedLiveOneIsNot) {
  {
    auto first = serve();
    // A second daemon on the same path is refused while the first answers.
    auto second = open_control_socket(path_, "");
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().find("another process is serving it"), std::string::npos) << second.error();
  }
  // The first went away (its destructor removed the file); leave a stale one.
  {
    auto fd = open_control_socket(path_, "");
    ASSERT_TRUE(fd);
  }  // closed without unlinking: stale
  ASSERT_TRUE(fs::exists(path_));
  auto again = open_control_socket(path_, "");
  EXPECT_TRUE(again) << again.error();
}

TEST_F(ControlSocketTest, RefusesBadPathsAndGroups) {
  EXPECT_FALSE(open_control_socket("", ""));
  EXPECT_FALSE(open_control_socket("/" + std::string(200, 'x'), ""));
  auto g = open_control_socket(path_, "no-such-group-dialout");
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().find("no such group"), std::string::npos) << g.error();
  fs::create_directories(dir_ + "/run");
  { std::ofstream(dir_ + "/run/ctl.sock") << "x"; }
  auto f = open_control_socket(path_, "");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().find("not a socket"), std::string::npos) << f.error();
}

}  // namespace
}  // namespace dialout
