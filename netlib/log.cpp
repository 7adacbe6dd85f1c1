#include "netlib/log.hpp"

#include <unistd.h>

#include <cerrno>
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

Logger::Logger(std::string component, LogLevel min_level, Sink sink)
    : component_(std::move(component)), min_level_(min_level), sink_(std::move(sink)) {}

Logger Logger::child(std::string component) const {
  return Logger(std::move(component), min_level_, sink_);
}

void Logger::emit(LogLevel l, std::string_view message) {
  if (!enabled(l)) return;
  std::string line = fmt::format("{} {}: {}\n", to_string(l), component_, message);
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
