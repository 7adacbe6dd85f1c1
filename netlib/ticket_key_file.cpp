#include "netlib/ticket_key_file.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlib/unique_fd.hpp"

namespace dialout {
namespace {

// A key file is a few hundred bytes; anything much larger is not one.
constexpr size_t kMaxFileBytes = 4096;

std::string errno_text(const std::string& what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

}  // namespace

Expected<std::optional<TicketKeyRing>, std::string> load_ticket_keys(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<TicketKeyRing>{};
    return unexpected(errno_text("open ticket key file", path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unexpected(errno_text("stat ticket key file", path));
  if (!S_ISREG(st.st_mode)) return unexpected(fmt::format("ticket key file {}: not a regular file", path));
  if ((st.st_mode & 077) != 0)
    return unexpected(fmt::format("ticket key file {}: mode {:o} lets others read the keys (chmod 600)", path,
                                  st.st_mode & 0777));
  if (size_t(st.st_size) > kMaxFileBytes)
    return unexpected(fmt::format("ticket key file {}: {} bytes, not a key file", path, st.st_size));
  std::string text(size_t(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unexpected(errno_text("read ticket key file", path));
    if (n == 0) break;
    got += size_t(n);
  }
  text.resize(got);
  auto ring = TicketKeyRing::parse(text, path);
  if (!ring) return unexpected(ring.error());
  return std::optional<TicketKeyRing>(std::move(*ring));
}

Expected<void, std::string> save_ticket_keys(const std::string& path, const TicketKeyRing& ring) {
  std::string tmp = path + ".new";
  ::unlink(tmp.c_str());  // a leftover of a crash
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return unexpected(errno_text("create", tmp));
  std::string text = ring.to_text();
  size_t put = 0;
  while (put < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + put, text.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::unlink(tmp.c_str());
      return unexpected(errno_text("write", tmp));
    }
    put += size_t(n);
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = errno_text("save ticket key file", path);
    ::unlink(tmp.c_str());
    return unexpected(err);
  }
  return {};
}

}  // namespace dialout
