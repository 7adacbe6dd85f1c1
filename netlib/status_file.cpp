#include "netlib/status_file.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "netlib/unique_fd.hpp"

namespace dialout {

namespace {

std::string failure(const std::string& path, const char* step, int err) {
  return fmt::format("status file {}: {}: {}", path, step, std::strerror(err));
}

}  // namespace

Expected<void, std::string> StatusFile::write(
    std::span<const std::pair<std::string_view, uint64_t>> counters,
    std::span<const std::pair<std::string_view, std::string>> lines) const {
  if (path_.empty()) return {};
  std::string text;
  for (const auto& [key, value] : counters) text += fmt::format("{} {}\n", key, value);
  for (const auto& [key, value] : lines) text += fmt::format("{} {}\n", key, value);

  const std::string tmp = path_ + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return unexpected(failure(tmp, "open", errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return unexpected(failure(tmp, "write", err));
    }
    done += static_cast<size_t>(n);
  }
  // No fsync: the file describes the running process and is rewritten soon;
  // after a crash a stale or empty file is harmless.
  if (::close(fd.release()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return unexpected(failure(tmp, "close", err));
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return unexpected(failure(path_, "rename", err));
  }
  return {};
}

}  // namespace dialout
