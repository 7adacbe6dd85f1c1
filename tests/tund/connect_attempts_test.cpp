// The race's open attempts on a real event loop with scripted transports.
#include "tund/connect_attempts.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <vector>

#include "tests/support/fake_transport.hpp"
#include "tests/support/in_process.hpp"

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Status = StreamTransport::Status;

struct Fixture {
  EventLoop loop;
  std::vector<size_t> events;
  ConnectAttempts attempts{loop, [this](size_t i) { events.push_back(i); }};
  std::vector<UniqueFd> peers;
  FakeTransport* add(size_t index, const char* host, Status handshake) {
    auto [t, peer] = FakeTransport::make(FakeTransport::Script{.handshake = handshake});
    FakeTransport* raw = t.get();
    peers.push_back(std::move(peer));
    attempts.add(index, Endpoint{host, 443}, std::move(t));
    return raw;
  }
};

TEST(ConnectAttempts, ReportsEventsDrivesAndHandsOverTheWinner) {
  Fixture f;
  FakeTransport* slow = f.add(0, "2001:db8::7", Status::WantRead);
  f.add(1, "192.0.2.7", Status::Done);
  ASSERT_TRUE(run_loop_until(f.loop, [&] { return f.events.size() >= 2; }, 2s, 5ms)) << "connecting sockets are writable";
  EXPECT_EQ(f.attempts.drive(0), ConnectAttempts::Step::Pending);
  EXPECT_EQ(f.attempts.drive(1), ConnectAttempts::Step::Done);
  ASSERT_NE(f.attempts.target(1), nullptr);
  EXPECT_EQ(f.attempts.target(1)->to_string(), "192.0.2.7:443");
  auto won = f.attempts.take(1);
  ASSERT_NE(won, nullptr);
  EXPECT_EQ(f.attempts.size(), 1u);
  EXPECT_EQ(f.attempts.take(1), nullptr) << "taken once";
  EXPECT_EQ(f.attempts.drive(7), ConnectAttempts::Step::Pending) << "an unknown index is ignored";
  slow->set_handshake(Status::Error);
  EXPECT_EQ(f.attempts.drive(0), ConnectAttempts::Step::Failed);
  EXPECT_EQ(f.attempts.last_failure(), "[2001:db8::7]:443: scripted failure");
  EXPECT_TRUE(f.attempts.empty());
}

TEST(ConnectAttempts, ClearClosesEveryOpenAttempt) {
  Fixture f;
  f.add(0, "2001:db8::7", Status::WantRead);
  f.add(1, "192.0.2.7", Status::WantRead);
  f.attempts.clear();
  EXPECT_TRUE(f.attempts.empty());
  for (const auto& p : f.peers) {
    char c;
    EXPECT_EQ(::recv(p.get(), &c, 1, MSG_DONTWAIT), 0) << "the transport's end is closed";
  }
  f.events.clear();
  for (int i = 0; i < 5; ++i) f.loop.run_once(5ms);
  EXPECT_TRUE(f.events.empty()) << "nothing watched any more";
}

}  // namespace
}  // namespace dialout
