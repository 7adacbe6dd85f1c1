// Startup: turns the `proxy` and `proxy-credentials` settings into the
// ProxyRoute every uplink dials through (or none). Runs once, before
// privileges are dropped (the credentials file may be root's only); blocks
// on the file, never on the network. Errors name the file or the variable,
// never a credential.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "tund/proxy_dialer.hpp"
#include "tund/proxy_settings.hpp"

namespace dialout {

struct ProxyRouteChoice {
  std::optional<ProxyRoute> route;  // nullopt: connect directly
  std::string reason;               // for the start-up log line
};

// `read_file` returns the credentials file's text after checking its mode
// (read_proxy_credentials_file by default; tests inject theirs).
using CredentialsReader = std::function<Expected<std::string, std::string>(const std::string& path)>;

Expected<std::string, std::string> read_proxy_credentials_file(const std::string& path);

Expected<ProxyRouteChoice, std::string> load_proxy_route(const ProxySetting& setting,
                                                         const std::string& credentials_path,
                                                         std::string_view intermediary_host,
                                                         const EnvironmentLookup& env,
                                                         const CredentialsReader& read = read_proxy_credentials_file);

}  // namespace dialout
