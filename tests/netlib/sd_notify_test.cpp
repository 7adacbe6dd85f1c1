#include "netlib/sd_notify.hpp"

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "netlib/unique_fd.hpp"

namespace dialout {
namespace {

// A bound unix datagram socket standing in for systemd's notify socket.
struct Listener {
  UniqueFd fd;
  std::string name;  // "/tmp/.../notify" or "@..."

  static Listener bind_to(const std::string& name) {
    Listener l{UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)), name};
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::bind(l.fd.get(), reinterpret_cast<struct sockaddr*>(&addr), len), 0) << std::strerror(errno);
    return l;
  }

  std::optional<std::string> receive(int timeout_ms) {
    struct pollfd p {};
    p.fd = fd.get();
    p.events = POLLIN;
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    char buf[512];
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }
};

// Restores $NOTIFY_SOCKET so tests never leak environment into each other.
class SdNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("NOTIFY_SOCKET");
    if (old) saved_ = old;
    char tmpl[] = "/tmp/dialout-notify-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (saved_) ::setenv("NOTIFY_SOCKET", saved_->c_str(), 1);
    else ::unsetenv("NOTIFY_SOCKET");
    ::unlink((dir_ + "/notify").c_str());
    ::rmdir(dir_.c_str());
  }
  std::optional<std::string> saved_;
  std::string dir_;
};

TEST_F(SdNotify, SendsToPathSocket) {
  auto l = Listener::bind_to(dir_ + "/notify");
  ::setenv("NOTIFY_SOCKET", l.name.c_str(), 1);
  sd_notify("READY=1\nSTATUS=connected to 2 intermediaries");
  EXPECT_EQ(l.receive(1000), "READY=1\nSTATUS=connected to 2 intermediaries");
}

TEST_F(SdNotify, SendsToAbstractSocket) {
  auto l = Listener::bind_to("@dialout-notify-test-" + std::to_string(::getpid()));
  ::setenv("NOTIFY_SOCKET", l.name.c_str(), 1);
  sd_notify("STOPPING=1");
  EXPECT_EQ(l.receive(1000), "STOPPING=1");
}

TEST_F(SdNotify, NoOpWhenUnset) {
  auto l = Listener::bind_to(dir_ + "/notify");
  ::unsetenv("NOTIFY_SOCKET");
  sd_notify("READY=1");
  EXPECT_EQ(l.receive(50), std::nullopt);
}

TEST_F(SdNotify, ExplicitErrorsAreReadable) {
  struct Case {
    std::string socket;
    const char* expected;
  };
  const Case cases[] = {
      {"relative/path", "not an absolute path"},
      {"", "not an absolute path"},
      {"/" + std::string(200, 'x'), "path too long"},
      {dir_ + "/nobody-listens", "sendto"},
  };
  for (const auto& c : cases) {
    auto r = sd_notify_to(c.socket, "READY=1");
    ASSERT_FALSE(r) << c.socket;
    EXPECT_NE(r.error().find(c.expected), std::string::npos) << r.error();
  }
  // The silent variant swallows the same failure.
  ::setenv("NOTIFY_SOCKET", (dir_ + "/nobody-listens").c_str(), 1);
  sd_notify("READY=1");
}

}  // namespace
}  // namespace dialout
