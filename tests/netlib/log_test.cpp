#include "netlib/log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialout {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimitedLog::Clock;

struct Captured {
  std::vector<std::string> lines;
  Logger logger{"relay", LogLevel::Info, [this](std::string_view l) { lines.emplace_back(l); }};
};

TEST(LogThrottle, WindowedCountWithHeldBackLines) {
  LogThrottle t;
  auto t0 = Clock::time_point{};  // the clock's epoch works as a first instant too
  ASSERT_TRUE(t.has_room(t0, 2, 10s));
  EXPECT_EQ(t.emit(), 0u);
  ASSERT_TRUE(t.has_room(t0 + 1s, 2, 10s));
  EXPECT_EQ(t.emit(), 0u);
  EXPECT_FALSE(t.has_room(t0 + 2s, 2, 10s));
  t.hold_back();
  t.hold_back();
  EXPECT_FALSE(t.has_room(t0 + 9s, 2, 10s));
  ASSERT_TRUE(t.has_room(t0 + 10s, 2, 10s)) << "a new window";
  EXPECT_EQ(t.emit(), 2u) << "the first line after tells how many were held back";
  ASSERT_TRUE(t.has_room(t0 + 10s, 2, 10s));
  EXPECT_EQ(t.emit(), 0u);
  EXPECT_TRUE(t.has_room(t0 + 5s, 2, 10s)) << "time going backwards starts a new window";
}

TEST(RateLimitedLog, PerKeyLimitAndSuppressedCount) {
  Captured c;
  RateLimitedLog log(c.logger, 2, 10s);
  auto t0 = Clock::time_point{} + 1h;
  for (int i = 0; i < 10; ++i) log.warn("malformed", t0, "bad frame {}", i);
  log.warn("no-route", t0, "no route");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"WARN relay: bad frame 0\n", "WARN relay: bad frame 1\n",
                                               "WARN relay: no route\n"}));
  log.warn("malformed", t0 + 10s, "bad frame {}", 10);
  EXPECT_EQ(c.lines.back(), "WARN relay: bad frame 10 (8 suppressed)\n");
  EXPECT_EQ(log.key_count(), 2u);
  log.forget("malformed");
  EXPECT_EQ(log.key_count(), 1u);
}

TEST(RateLimitedLog, OnePeerCannotUseUpAReasonsLines) {
  Captured c;
  RateLimitedLog log(c.logger, 4, 10s, 1);
  auto t0 = Clock::time_point{} + 1h;
  LogThrottle flooder, honest;
  for (int i = 0; i < 1000; ++i) log.warn("spoofed", flooder, t0, "flooder {}", i);
  log.warn("spoofed", honest, t0, "honest");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"WARN relay: flooder 0\n", "WARN relay: honest\n"}));
  // Peers share the reason's budget: four peers fill it, the fifth waits.
  LogThrottle p3, p4, p5;
  log.warn("spoofed", p3, t0, "p3");
  log.warn("spoofed", p4, t0, "p4");
  log.warn("spoofed", p5, t0, "p5");
  EXPECT_EQ(c.lines.size(), 4u);
  EXPECT_EQ(c.lines.back(), "WARN relay: p4\n");
  // Next window: each count lands on the line of whoever was held back.
  log.warn("spoofed", flooder, t0 + 10s, "flooder again");
  EXPECT_EQ(c.lines.back(), "WARN relay: flooder again (1000 suppressed)\n")
      << "999 of its own plus p5's line held back by the reason's limit";
  EXPECT_EQ(log.key_count(), 1u) << "peers are not keys: nothing grows per peer";
}

TEST(RateLimitedLog, FilteredLevelsCostNothing) {
  Captured c;
  RateLimitedLog log(c.logger, 1, 10s);
  auto t0 = Clock::time_point{};
  log.log("k", t0, LogLevel::Debug, "hidden");
  EXPECT_EQ(log.key_count(), 0u);
  log.info("k", t0, "shown");
  EXPECT_EQ(c.lines, std::vector<std::string>{"INFO relay: shown\n"});
}

}  // namespace
}  // namespace dialout
