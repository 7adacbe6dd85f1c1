#include "tund/proxy_route.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlib/ip_address.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

Expected<std::string, std::string> read_proxy_credentials_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return unexpected(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unexpected(path + ": " + std::strerror(errno));
  if (auto ok = check_proxy_credentials_mode(st.st_mode); !ok) return unexpected(path + ": " + ok.error());
  std::string text(kMaxProxyCredentialsFileBytes + 1, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unexpected(path + ": " + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > kMaxProxyCredentialsFileBytes)
    return unexpected(path + ": longer than " + std::to_string(kMaxProxyCredentialsFileBytes) + " bytes");
  text.resize(got);
  return text;
}

Expected<ProxyRouteChoice, std::string> load_proxy_route(const ProxySetting& setting,
                                                         const std::string& credentials_path,
                                                         std::string_view intermediary_host,
                                                         const EnvironmentLookup& env, const CredentialsReader& read) {
  ProxyRouteChoice out;
  std::optional<ProxyServer> server;
  switch (setting.mode) {
    case ProxySetting::Mode::None: out.reason = "proxy = none"; return out;
    case ProxySetting::Mode::Server:
      server = setting.server;
      out.reason = "proxy = " + setting.server.to_string();
      break;
    case ProxySetting::Mode::Environment: {
      auto choice = proxy_from_environment(env, intermediary_host);
      if (!choice) return unexpected("proxy = env: " + choice.error());
      server = choice->server;
      out.reason = "proxy = env: " + choice->reason;
      break;
    }
  }
  if (!server) return out;
  // socks5:// asks tund to resolve the intermediary and send its address;
  // uplinks resolve only the proxy's name, so a name needs socks5h://.
  if (server->scheme == ProxyScheme::Socks5 && !server->remote_resolution && !IpAddr::parse(intermediary_host))
    return unexpected(server->to_string() + ": the intermediary " + std::string(intermediary_host) +
                      " is a name; use socks5h:// to let the proxy resolve it");
  ProxyRoute route{*server, nullptr};
  if (!credentials_path.empty()) {
    auto text = read(credentials_path);
    if (!text) return unexpected("proxy-credentials " + text.error());
    auto creds = parse_proxy_credentials(*text);
    if (!creds) return unexpected("proxy-credentials " + credentials_path + ": " + creds.error());
    route.credentials = std::make_shared<const ProxyCredentials>(std::move(*creds));
  }
  out.route = std::move(route);
  return out;
}

}  // namespace dialout
