// Log lines made while the relay holds its lock, written after it is
// released: a write to stderr (or a slow journal) must never stall the
// other workers. logger() formats as usual into a small buffer guarded by
// its own mutex (no I/O under it); flush() takes the buffer and writes the
// lines through the real Logger. Lines keep their order within a thread.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/log.hpp"

namespace dialout {

class DeferredLog {
 public:
  explicit DeferredLog(Logger& out)
      : out_(out), logger_("", out.level(), [this](std::string_view line) { keep(line); }) {}
  DeferredLog(const DeferredLog&) = delete;
  DeferredLog& operator=(const DeferredLog&) = delete;

  Logger& logger() { return logger_; }

  // Writes what was kept; call with no lock held.
  void flush() {
    std::vector<std::pair<LogLevel, std::string>> batch;
    {
      std::lock_guard g(mu_);
      if (lines_.empty()) return;
      batch.swap(lines_);
    }
    for (const auto& [level, text] : batch) out_.emit(level, text);
  }

 private:
  // `line` is "<level> : <message>\n" (Logger's format with no component).
  void keep(std::string_view line) {
    LogLevel level = LogLevel::Info;
    for (LogLevel l : {LogLevel::Debug, LogLevel::Info, LogLevel::Warn, LogLevel::Error}) {
      std::string_view name = to_string(l);
      if (line.starts_with(name) && line.substr(name.size()).starts_with(" : ")) {
        level = l;
        line.remove_prefix(name.size() + 3);
        break;
      }
    }
    if (line.ends_with('\n')) line.remove_suffix(1);
    std::lock_guard g(mu_);
    lines_.emplace_back(level, std::string(line));
  }

  Logger& out_;
  Logger logger_;
  std::mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> lines_;  // guarded by mu_
};

}  // namespace dialout
