#include "netlib/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <utility>

namespace dialout {

const char* to_string(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return "DEBUG";
    case LogLevel::Info: return "INFO";
    case LogLevel::Warn: return "WARN";
    case LogLevel::Error: return "ERROR";
  }
  return "?";
}

Expected<LogLevel, std::string> parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::Debug;
  if (s == "info") return LogLevel::Info;
  if (s == "warn" || s == "warning") return LogLevel::Warn;
  if (s == "error") return LogLevel::Error;
  return unexpected(fmt::format("unknown log level \"{}\" (expected debug, info, warn, error)", s));
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Debug: return 7;  // LOG_DEBUG
    case LogLevel::Info: return 6;   // LOG_INFO
    case LogLevel::Warn: return 4;   // LOG_WARNING
    case LogLevel::Error: return 3;  // LOG_ERR
  }
  return 6;
}

std::string format_log_line(LogStyle style, std::chrono::system_clock::time_point t, LogLevel l,
                            std::string_view component, std::string_view message) {
  switch (style) {
    case LogStyle::Plain: break;
    case LogStyle::Journal:
      return fmt::format("<{}>{} {}: {}\n", syslog_priority(l), to_string(l), component, message);
    case LogStyle::Timestamped: {
      // Civil-from-days arithmetic (no gmtime_r, no time zone files): UTC.
      using namespace std::chrono;
      auto ms = floor<milliseconds>(t);
      auto day = floor<days>(ms);
      year_month_day ymd{day};
      hh_mm_ss hms{ms - day};
      return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}: {}\n", static_cast<int>(ymd.year()),
                         static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), hms.hours().count(),
                         hms.minutes().count(), hms.seconds().count(), hms.subseconds().count(), to_string(l),
                         component, message);
    }
  }
  return fmt::format("{} {}: {}\n", to_string(l), component, message);
}

LogEnvironment process_log_environment() {
  return LogEnvironment{
      .getenv = [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once at startup
        if (!v) return std::nullopt;
        return std::string(v);
      },
      .stderr_identity = []() -> std::optional<LogEnvironment::FileIdentity> {
        struct stat st {};
        if (::fstat(STDERR_FILENO, &st) != 0) return std::nullopt;
        return LogEnvironment::FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
      },
  };
}

namespace {

// "<dev>:<inode>", both decimal, nothing else (systemd's DEV_FMT ":" INO_FMT).
std::optional<LogEnvironment::FileIdentity> parse_journal_stream(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view part) -> std::optional<uint64_t> {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size()) return std::nullopt;
    return v;
  };
  auto dev = number(s.substr(0, colon));
  auto ino = number(s.substr(colon + 1));
  if (!dev || !ino) return std::nullopt;
  return LogEnvironment::FileIdentity{*dev, *ino};
}

}  // namespace

LogStyle choose_log_style(const LogEnvironment& env) {
  auto stream = env.getenv ? env.getenv("JOURNAL_STREAM") : std::nullopt;
  if (stream) {
    auto named = parse_journal_stream(*stream);
    auto actual = env.stderr_identity ? env.stderr_identity() : std::nullopt;
    if (named && actual && *named == *actual) return LogStyle::Journal;
  }
  return LogStyle::Timestamped;
}

Logger::Logger(std::string component, LogLevel min_level, Sink sink)
    : component_(std::move(component)),
      min_level_(min_level),
      sink_(std::move(sink)),
      style_(sink_ ? LogStyle::Plain : choose_log_style(process_log_environment())) {}

Logger::Logger(std::string component, LogLevel min_level, Sink sink, const LogEnvironment& env)
    : Logger(std::move(component), min_level, std::move(sink), choose_log_style(env)) {}

Logger::Logger(std::string component, LogLevel min_level, Sink sink, LogStyle style)
    : component_(std::move(component)), min_level_(min_level), sink_(std::move(sink)), style_(style) {}

Logger Logger::child(std::string component) const {
  return Logger(std::move(component), min_level_, sink_, style_);
}

void Logger::emit(LogLevel l, std::string_view message) {
  if (!enabled(l)) return;
  std::string line = format_log_line(style_, std::chrono::system_clock::now(), l, component_, message);
  if (sink_) {
    sink_(line);
    return;
  }
  // One write(2) per line; a short write to stderr is retried, a failing
  // stderr is ignored (there is nowhere left to report it).
  std::string_view rest = line;
  for (int tries = 0; !rest.empty() && tries < 8; ++tries) {
    ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

bool LogThrottle::has_room(Clock::time_point now, unsigned max_lines, std::chrono::milliseconds interval) {
  if (!started_ || now - window_start_ >= interval || now < window_start_) {
    started_ = true;
    window_start_ = now;
    lines_in_window_ = 0;
  }
  return lines_in_window_ < max_lines;
}

uint64_t LogThrottle::emit() {
  ++lines_in_window_;
  return std::exchange(suppressed_, 0);
}

bool RateLimitedLog::admit(std::string_view key, LogThrottle* peer, Clock::time_point now, uint64_t& suppressed_out) {
  suppressed_out = 0;
  auto it = keys_.find(key);
  if (it == keys_.end()) it = keys_.emplace(std::string(key), LogThrottle{}).first;
  LogThrottle& reason = it->second;
  bool reason_room = reason.has_room(now, max_lines_, interval_);
  // A peer over its own share is held back on its own count, so it leaves
  // the reason's lines to other peers.
  if (peer && !peer->has_room(now, max_lines_per_peer_, interval_)) {
    peer->hold_back();
    return false;
  }
  if (!reason_room) {
    reason.hold_back();
    return false;
  }
  suppressed_out = reason.emit() + (peer ? peer->emit() : 0);
  return true;
}

void RateLimitedLog::forget(std::string_view key) {
  auto it = keys_.find(key);
  if (it != keys_.end()) keys_.erase(it);
}

}  // namespace dialout
