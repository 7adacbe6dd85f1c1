// Counters for operators and tests: "key value" lines in a small text file.
//
// Each write replaces the whole file atomically (write path.tmp, then
// rename), so a reader (`grep`, a test polling the file) never sees a half
// written file. An empty path turns every write into a no-op.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "netlib/expected.hpp"

namespace dialout {

class StatusFile {
 public:
  explicit StatusFile(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool enabled() const { return !path_.empty(); }

  // One "key value\n" line per counter, in the order given. Keys must not
  // contain whitespace (they are written as given). The error names the file
  // and the failed step.
  // Then one "key value\n" line per `text` entry (values must not hold a
  // newline; spaces are fine: the value is the rest of the line).
  Expected<void, std::string> write(
      std::span<const std::pair<std::string_view, uint64_t>> counters,
      std::span<const std::pair<std::string_view, std::string>> text = {}) const;

 private:
  std::string path_;
};

}  // namespace dialout
