#include "netlib/log.hpp"

#include <gtest/gtest.h>

#include <regex>
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

TEST(LogLine, PrefixPerStyle) {
  using namespace std::chrono;
  // 2026-12-01T08:26:03.045Z
  auto t = sys_days{year{2026} / December / 1} + 8h + 26min + 3s + 45ms + 999us;
  struct Case {
    LogStyle style;
    LogLevel level;
    const char* want;
  };
  for (const Case& c : {
           Case{LogStyle::Plain, LogLevel::Warn, "WARN tund: m\n"},
           Case{LogStyle::Timestamped, LogLevel::Info, "2026-12-01T08:26:03.045Z INFO tund: m\n"},
           Case{LogStyle::Journal, LogLevel::Error, "<3>ERROR tund: m\n"},
           Case{LogStyle::Journal, LogLevel::Warn, "<4>WARN tund: m\n"},
           Case{LogStyle::Journal, LogLevel::Info, "<6>INFO tund: m\n"},
           Case{LogStyle::Journal, LogLevel::Debug, "<7>DEBUG tund: m\n"},
       }) {
    EXPECT_EQ(format_log_line(c.style, t, c.level, "tund", "m"), c.want);
  }
  auto epoch = system_clock::time_point{};
  EXPECT_EQ(format_log_line(LogStyle::Timestamped, epoch, LogLevel::Debug, "x", "y"),
            "1970-01-01T00:00:00.000Z DEBUG x: y\n");
}

LogEnvironment fake_environment(std::optional<std::string> journal_stream,
                                std::optional<LogEnvironment::FileIdentity> stderr_id) {
  return LogEnvironment{
      .getenv = [journal_stream](const char* name) -> std::optional<std::string> {
        if (std::string_view(name) == "JOURNAL_STREAM") return journal_stream;
        return std::nullopt;
      },
      .stderr_identity = [stderr_id] { return stderr_id; },
  };
}

TEST(LogStyleChoice, JournalOnlyWhileStderrIsTheNamedStream) {
  using Id = LogEnvironment::FileIdentity;
  struct Case {
    std::optional<std::string> journal_stream;
    std::optional<Id> stderr_id;
    LogStyle want;
  };
  for (const Case& c : {
           Case{"8:12345", Id{8, 12345}, LogStyle::Journal},
           Case{"18446744073709551615:1", Id{UINT64_MAX, 1}, LogStyle::Journal},
           Case{std::nullopt, Id{8, 12345}, LogStyle::Timestamped},
           Case{"8:12345", Id{8, 99}, LogStyle::Timestamped},  // stderr redirected, variable inherited
           Case{"8:12345", std::nullopt, LogStyle::Timestamped},  // stderr closed
           Case{"", Id{0, 0}, LogStyle::Timestamped},
           Case{"8:", Id{8, 0}, LogStyle::Timestamped},
           Case{":5", Id{0, 5}, LogStyle::Timestamped},
           Case{"8:12345x", Id{8, 12345}, LogStyle::Timestamped},
           Case{"8;12345", Id{8, 12345}, LogStyle::Timestamped},
           Case{"-8:12345", Id{8, 12345}, LogStyle::Timestamped},
       }) {
    EXPECT_EQ(choose_log_style(fake_environment(c.journal_stream, c.stderr_id)), c.want)
        << (c.journal_stream ? *c.journal_stream : "(unset)");
  }
  EXPECT_EQ(choose_log_style(LogEnvironment{}), LogStyle::Timestamped) << "nothing to look up";
}

TEST(LoggerStyle, ChosenOnceAtConstructionAndKeptByChildren) {
  std::vector<std::string> lines;
  auto sink = [&](std::string_view l) { lines.emplace_back(l); };
  Logger journal("tund", LogLevel::Debug, sink, fake_environment("3:7", LogEnvironment::FileIdentity{3, 7}));
  journal.warn("link {}", "down");
  journal.child("tls").debug("hello");
  EXPECT_EQ(lines, (std::vector<std::string>{"<4>WARN tund: link down\n", "<7>DEBUG tls: hello\n"}));

  lines.clear();
  Logger elsewhere("tund", LogLevel::Info, sink, fake_environment(std::nullopt, std::nullopt));
  elsewhere.child("tls").error("bad");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(lines[0], std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR tls: bad\n)")))
      << lines[0];

  Logger plain("tund", LogLevel::Info, sink);
  EXPECT_EQ(plain.style(), LogStyle::Plain) << "a sink without an environment gets exact lines";
}

}  // namespace
}  // namespace dialout
