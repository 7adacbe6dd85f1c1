#include "tund/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "netlib/unique_fd.hpp"

namespace dialout {
namespace {

constexpr size_t kMaxValue = 4096;  // every setting we touch is a short number

std::string path_of(const std::string& key) { return "/proc/sys/" + key; }

bool valid_key(const std::string& key) {
  return !key.empty() && key.front() != '/' && key.find("..") == std::string::npos;
}

}  // namespace

Expected<std::string, std::string> read_sysctl(const std::string& key) {
  if (!valid_key(key)) return unexpected(fmt::format("sysctl {}: invalid key", key));
  UniqueFd fd(::open(path_of(key).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return unexpected(fmt::format("read {}: {}", path_of(key), std::strerror(errno)));
  std::string value(kMaxValue, '\0');
  ssize_t n;
  do {
    n = ::read(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return unexpected(fmt::format("read {}: {}", path_of(key), std::strerror(errno)));
  value.resize(static_cast<size_t>(n));
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

Expected<void, std::string> write_sysctl(const std::string& key, const std::string& value) {
  if (!valid_key(key)) return unexpected(fmt::format("sysctl {}: invalid key", key));
  UniqueFd fd(::open(path_of(key).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return unexpected(fmt::format("write {}: {}", path_of(key), std::strerror(errno)));
  const std::string line = value + "\n";
  ssize_t n;
  do {
    n = ::write(fd.get(), line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return unexpected(fmt::format("write {} = {}: {}", path_of(key), value, std::strerror(errno)));
  if (static_cast<size_t>(n) != line.size()) return unexpected(fmt::format("write {}: short write", path_of(key)));
  return {};
}

}  // namespace dialout
