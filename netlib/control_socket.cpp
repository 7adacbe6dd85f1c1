#include "netlib/control_socket.hpp"

#include <fmt/core.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace dialout {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

Expected<gid_t, std::string> lookup_group(const std::string& name) {
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  int rc = ::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found);
  if (rc != 0) return unexpected(fmt::format("control-group '{}': {}", name, errno_text(rc)));
  if (found == nullptr) return unexpected(fmt::format("control-group '{}': no such group", name));
  return found->gr_gid;
}

// True when something answers on `addr`: a live daemon owns the path.
bool answering(const sockaddr_un& addr) {
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return false;
  return ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

Expected<UniqueFd, std::string> open_control_socket(const std::string& path, const std::string& group) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return unexpected(fmt::format("control socket path '{}' is empty or longer than {} bytes", path,
                                  sizeof addr.sun_path - 1));
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  std::optional<gid_t> gid;
  if (!group.empty()) {
    auto g = lookup_group(group);
    if (!g) return unexpected(g.error());
    gid = *g;
  }
  if (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0750) == 0) {
      // Members of the group must be able to reach the socket inside it.
      if (gid && ::chown(dir.c_str(), uid_t(-1), *gid) != 0)
        return unexpected(fmt::format("control socket directory {}: chown: {}", dir, errno_text(errno)));
    } else if (errno != EEXIST) {
      return unexpected(fmt::format("control socket directory {}: {}", dir, errno_text(errno)));
    }
  }
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return unexpected(fmt::format("control socket {}: exists and is not a socket", path));
    if (answering(addr)) return unexpected(fmt::format("control socket {}: another process is serving it", path));
    ::unlink(path.c_str());  // left by a daemon that died
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return unexpected(fmt::format("control socket: socket: {}", errno_text(errno)));
  // Created without group/other access; opened up to 0660 once the group is set.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old);
  if (rc != 0) return unexpected(fmt::format("control socket {}: bind: {}", path, errno_text(bind_errno)));
  if (gid && ::chown(path.c_str(), uid_t(-1), *gid) != 0)
    return unexpected(fmt::format("control socket {}: chown to group {}: {}", path, group, errno_text(errno)));
  if (::chmod(path.c_str(), gid ? 0660 : 0600) != 0)
    return unexpected(fmt::format("control socket {}: chmod: {}", path, errno_text(errno)));
  if (::listen(fd.get(), 16) != 0)
    return unexpected(fmt::format("control socket {}: listen: {}", path, errno_text(errno)));
  return fd;
}

std::string ControlSocket::answer(std::string_view request, const Handler& handler) {
  if (request.ends_with('\n')) request.remove_suffix(1);
  auto parsed = parse_control_request(request);
  if (!parsed) return encode_control_reply({false, parsed.error()});
  return encode_control_reply(handler(*parsed));
}

ControlSocket::ControlSocket(EventLoop& loop, UniqueFd listener, std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {
  RequestServer::Limits limits;
  limits.max_request = kMaxControlRequest;
  server_ = std::make_unique<RequestServer>(
      loop, std::move(listener), limits,
      [](std::string_view in) -> size_t {
        auto nl = in.find('\n');
        return nl == std::string_view::npos ? 0 : nl + 1;
      },
      [this](std::string_view request) { return answer(request, handler_); },
      encode_control_reply({false, fmt::format("request over {} bytes", kMaxControlRequest)}));
}

ControlSocket::~ControlSocket() {
  server_.reset();
  ::unlink(path_.c_str());
}

}  // namespace dialout
