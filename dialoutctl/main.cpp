// dialoutctl: asks a running tund or intermediary over its control socket
// (docs/protocol.md, "Control socket") and prints the answer.
//
//   dialoutctl [--socket PATH] status|routes|kill NAME|SESSION-ID|reload [--json]
//
// Exit codes: 0 the daemon answered ok; 1 the daemon answered with an
// error; 2 the daemon could not be reached or its reply was unreadable;
// 64 bad command line.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/control_protocol.hpp"
#include "netlib/unique_fd.hpp"

using namespace dialout;

namespace {

constexpr int kExitError = 1;
constexpr int kExitUnreachable = 2;
constexpr int kExitUsage = 64;
constexpr const char* kRelaySocket = "/run/dialout/intermediary.sock";
constexpr const char* kSiteSocket = "/run/dialout/tund.sock";

constexpr std::string_view kUsage =
    "Usage: dialoutctl [--socket PATH] COMMAND [--json]\n"
    "Ask a running tund or intermediary over its control socket.\n"
    "\n"
    "Commands:\n"
    "  status            sessions (intermediary) or uplinks (tund), and routes\n"
    "  routes            the route table\n"
    "  kill NAME|ID      close a site's sessions, or one session (intermediary only)\n"
    "  reload            what SIGHUP does\n"
    "\n"
    "Options:\n"
    "  --socket PATH     control socket (default: $DIALOUT_SOCKET, else whichever of\n"
    "                    /run/dialout/intermediary.sock and /run/dialout/tund.sock exists)\n"
    "  --json            one JSON object instead of tables\n"
    "  --help            this text\n"
    "\n"
    "Exit status: 0 ok, 1 the daemon refused the request, 2 the daemon could not be\n"
    "reached, 64 usage error.\n";

int usage_error(const std::string& why) {
  std::fprintf(stderr, "dialoutctl: %s\n%s", why.c_str(), std::string(kUsage).c_str());
  return kExitUsage;
}

bool exists(const char* path) {
  struct stat st{};
  return ::stat(path, &st) == 0;
}

int ask(const std::string& path, const std::string& request, std::string& reply) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "dialoutctl: socket path too long: %s\n", path.c_str());
    return kExitUsage;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    std::fprintf(stderr, "dialoutctl: socket: %s\n", std::strerror(errno));
    return kExitUnreachable;
  }
  // The daemon answers at once or closes after its own timeout: never hang.
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "dialoutctl: %s: %s\n", path.c_str(), std::strerror(errno));
    return kExitUnreachable;
  }
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "dialoutctl: %s: send: %s\n", path.c_str(), std::strerror(errno));
      return kExitUnreachable;
    }
    sent += size_t(n);
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "dialoutctl: %s: %s\n", path.c_str(),
                   errno == EAGAIN ? "no reply within 5 s" : std::strerror(errno));
      return kExitUnreachable;
    }
    if (n == 0) break;
    reply.append(buf, size_t(n));
    if (reply.size() > kMaxControlReply + 4096) {
      std::fprintf(stderr, "dialoutctl: %s: reply over %zu bytes\n", path.c_str(), kMaxControlReply);
      return kExitUnreachable;
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  if (const char* env = std::getenv("DIALOUT_SOCKET"); env != nullptr && *env != '\0') socket_path = env;
  std::vector<std::string> words;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(std::string(kUsage).c_str(), stdout);
      return 0;
    }
    if (a == "--json") {
      json = true;
    } else if (a == "--socket") {
      if (i + 1 >= argc) return usage_error("--socket needs a path");
      socket_path = argv[++i];
    } else if (a.starts_with("--socket=")) {
      socket_path = std::string(a.substr(9));
    } else if (a.starts_with("-")) {
      return usage_error("unknown option " + std::string(a));
    } else {
      words.emplace_back(a);
    }
  }
  if (words.empty()) return usage_error("no command");
  // The request is checked here with the daemon's own parser: a typo is a
  // usage error before anything is sent.
  std::string line;
  for (const auto& w : words) line += (line.empty() ? "" : " ") + w;
  if (json) line += " --json";
  auto request = parse_control_request(line);
  if (!request) return usage_error(request.error());
  if (socket_path.empty()) {
    bool relay = exists(kRelaySocket), site = exists(kSiteSocket);
    if (relay && site) return usage_error("both daemons run here: say which with --socket");
    socket_path = relay ? kRelaySocket : kSiteSocket;
  }
  std::string bytes;
  if (int rc = ask(socket_path, format_control_request(*request), bytes); rc != 0) return rc;
  auto reply = parse_control_reply(bytes);
  if (!reply) {
    std::fprintf(stderr, "dialoutctl: %s: %s\n", socket_path.c_str(), reply.error().c_str());
    return kExitUnreachable;
  }
  if (!reply->ok) {
    std::fprintf(stderr, "dialoutctl: %s\n", reply->body.c_str());
    return kExitError;
  }
  std::fwrite(reply->body.data(), 1, reply->body.size(), stdout);
  return 0;
}
