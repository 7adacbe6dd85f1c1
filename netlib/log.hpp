// Logging: one line per message, "LEVEL component: message", with a prefix
// that depends on where stderr goes (LogStyle).
//
// Not global: each daemon builds a Logger at startup and passes it by
// reference, so tests can capture output through a sink instead of stderr.
#pragma once

#include <fmt/core.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "netlib/expected.hpp"

namespace dialout {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };

const char* to_string(LogLevel);
// "debug", "info", "warn"/"warning", "error" (lower case, as in config files).
Expected<LogLevel, std::string> parse_log_level(std::string_view);

// How a line starts. Chosen once per Logger, from where its lines go.
enum class LogStyle {
  Plain,        // "WARN tund: ..."           (a sink: tests compare exact lines)
  Timestamped,  // "2026-12-01T08:26:03.123Z WARN tund: ..." (a terminal or a file, UTC)
  Journal,      // "<4>WARN tund: ..."        (journald takes the priority and adds the time)
};

// syslog(3) priority of a level, as sd-daemon(3) prefixes: 3, 4, 6, 7.
int syslog_priority(LogLevel);

// One complete line including '\n'. Pure: the time is passed in.
std::string format_log_line(LogStyle, std::chrono::system_clock::time_point, LogLevel,
                            std::string_view component, std::string_view message);

// The facts about the process the style depends on, injected so tests need
// neither setenv nor a journal.
struct LogEnvironment {
  using FileIdentity = std::pair<uint64_t, uint64_t>;  // st_dev, st_ino
  std::function<std::optional<std::string>(const char* name)> getenv;
  std::function<std::optional<FileIdentity>()> stderr_identity;  // of fd 2, if open
};
// getenv(3) and fstat(2) of fd 2.
LogEnvironment process_log_environment();

// Journal if JOURNAL_STREAM ("<dev>:<inode>", set by systemd) names the file
// stderr still is; a process whose stderr was redirected elsewhere (a shell
// started from a service, say) inherits the variable but not the journal, so
// the variable alone is not enough (systemd.exec(5)). Otherwise Timestamped.
LogStyle choose_log_style(const LogEnvironment&);

class Logger {
 public:
  // Receives one complete line including the trailing '\n'.
  using Sink = std::function<void(std::string_view line)>;

  // Without a sink, lines go to stderr with one write(2) each, so lines from
  // several threads never interleave mid-line, in the style
  // choose_log_style(process_log_environment()) picks. A sink gets Plain lines.
  explicit Logger(std::string component, LogLevel min_level = LogLevel::Info, Sink sink = {});
  // The style chosen from `env` instead (whether or not there is a sink).
  Logger(std::string component, LogLevel min_level, Sink sink, const LogEnvironment& env);

  // Same level and sink, other component name (e.g. "intermediary" → "tls").
  Logger child(std::string component) const;

  void set_level(LogLevel l) { min_level_ = l; }
  LogLevel level() const { return min_level_; }
  bool enabled(LogLevel l) const { return l >= min_level_; }
  const std::string& component() const { return component_; }
  LogStyle style() const { return style_; }

  template <class... Args>
  void log(LogLevel l, fmt::format_string<Args...> f, Args&&... args) {
    if (!enabled(l)) return;  // format nothing for filtered messages
    emit(l, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::Debug, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::Info, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::Warn, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) {
    log(LogLevel::Error, f, std::forward<Args>(args)...);
  }

  // Writes an already formatted message (no level filtering beyond enabled()).
  void emit(LogLevel l, std::string_view message);

 private:
  Logger(std::string component, LogLevel min_level, Sink sink, LogStyle style);

  std::string component_;
  LogLevel min_level_;
  Sink sink_;
  LogStyle style_;
};

// One throttled stream of log lines: at most `max_lines` per `interval`,
// counting what it held back. Pure and small (no allocation), so a caller
// can keep one per peer inside the peer's own state: it goes away with the
// peer, and nothing grows with every peer ever seen.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // Rolls the window over if `interval` has passed; true if a line fits.
  bool has_room(Clock::time_point now, unsigned max_lines, std::chrono::milliseconds interval);
  void hold_back() { ++suppressed_; }
  // Counts an emitted line; returns how many were held back since the last.
  uint64_t emit();

 private:
  Clock::time_point window_start_{};
  bool started_ = false;
  unsigned lines_in_window_ = 0;
  uint64_t suppressed_ = 0;
};

// Throttles a log line per key (e.g. a drop reason): at most `max_lines`
// lines per key per `interval`. Suppressed lines are counted and the next
// emitted line for that key ends with "(N suppressed)", so a flood shows up
// in the log without filling the disk. Time is passed in.
//
// Per peer as well: the overloads taking a LogThrottle& also allow at most
// `max_lines_per_peer` lines per interval through that throttle, which the
// caller keeps per peer (session), so one flooding peer cannot use up a
// reason's lines and hide everyone else's.
//
// Keys are kept until forget()/clear(); callers should use a bounded key set
// (reasons, not peers or per-packet values).
class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimitedLog(Logger& logger, unsigned max_lines, std::chrono::milliseconds interval)
      : RateLimitedLog(logger, max_lines, interval, max_lines) {}
  RateLimitedLog(Logger& logger, unsigned max_lines, std::chrono::milliseconds interval,
                 unsigned max_lines_per_peer)
      : logger_(logger), max_lines_(max_lines), max_lines_per_peer_(max_lines_per_peer), interval_(interval) {}

  template <class... Args>
  void log(std::string_view key, Clock::time_point now, LogLevel l, fmt::format_string<Args...> f,
           Args&&... args) {
    emit_if(key, nullptr, now, l, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void log(std::string_view key, LogThrottle& peer, Clock::time_point now, LogLevel l,
           fmt::format_string<Args...> f, Args&&... args) {
    emit_if(key, &peer, now, l, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(std::string_view key, Clock::time_point now, fmt::format_string<Args...> f,
            Args&&... args) {
    log(key, now, LogLevel::Warn, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void warn(std::string_view key, LogThrottle& peer, Clock::time_point now, fmt::format_string<Args...> f,
            Args&&... args) {
    log(key, peer, now, LogLevel::Warn, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void info(std::string_view key, Clock::time_point now, fmt::format_string<Args...> f,
            Args&&... args) {
    log(key, now, LogLevel::Info, f, std::forward<Args>(args)...);
  }
  template <class... Args>
  void error(std::string_view key, Clock::time_point now, fmt::format_string<Args...> f,
             Args&&... args) {
    log(key, now, LogLevel::Error, f, std::forward<Args>(args)...);
  }

  // The pure decision: true if a line for `key` (and `peer`, if given) may
  // be written at `now`; then `suppressed_out` holds how many were dropped
  // since the last emitted line (for this key, plus this peer's own).
  bool admit(std::string_view key, Clock::time_point now, uint64_t& suppressed_out) {
    return admit(key, nullptr, now, suppressed_out);
  }
  bool admit(std::string_view key, LogThrottle* peer, Clock::time_point now, uint64_t& suppressed_out);

  void forget(std::string_view key);
  void clear() { keys_.clear(); }
  size_t key_count() const { return keys_.size(); }

 private:
  template <class... Args>
  void emit_if(std::string_view key, LogThrottle* peer, Clock::time_point now, LogLevel l,
               fmt::format_string<Args...> f, Args&&... args) {
    if (!logger_.enabled(l)) return;
    uint64_t suppressed = 0;
    if (!admit(key, peer, now, suppressed)) return;
    std::string msg = fmt::format(f, std::forward<Args>(args)...);
    if (suppressed > 0) msg += fmt::format(" ({} suppressed)", suppressed);
    logger_.emit(l, msg);
  }

  Logger& logger_;
  unsigned max_lines_;
  unsigned max_lines_per_peer_;
  std::chrono::milliseconds interval_;
  std::map<std::string, LogThrottle, std::less<>> keys_;
};

}  // namespace dialout
