#include "netlib/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "netlib/unique_fd.hpp"

namespace dialout {

Expected<void, std::string> sd_notify_to(std::string_view socket, std::string_view state) {
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (socket.size() < 2 || (socket[0] != '/' && socket[0] != '@')) {
    return unexpected(fmt::format("notify socket '{}': not an absolute path or @abstract name", socket));
  }
  if (socket.size() > sizeof addr.sun_path - 1) {
    return unexpected(fmt::format("notify socket '{}': path too long", socket));
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  // Abstract names start with a NUL byte and are not NUL-terminated: the
  // address length says where they end.
  if (socket[0] == '@') addr.sun_path[0] = '\0';
  auto addr_len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + socket.size());

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return unexpected(fmt::format("notify socket: socket: {}", std::strerror(errno)));
  ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const struct sockaddr*>(&addr), addr_len);
  if (n < 0) return unexpected(fmt::format("notify socket '{}': sendto: {}", socket, std::strerror(errno)));
  if (static_cast<size_t>(n) != state.size()) return unexpected(fmt::format("notify socket '{}': short send", socket));
  return {};
}

void sd_notify(std::string_view state) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return;
  (void)sd_notify_to(socket, state);
}

}  // namespace dialout
