// The `proxy` setting: how a site reaches the intermediary when only a
// proxy may talk to the outside world.
//
//   proxy = none                      connect directly (the default)
//   proxy = http://HOST:PORT          HTTP CONNECT (RFC 9110 section 9.3.6)
//   proxy = socks5h://HOST:PORT       SOCKS5 (RFC 1928); the proxy resolves
//                                     the intermediary's name
//   proxy = socks5://HOST:PORT        SOCKS5; tund resolves the name and
//                                     sends the address (curl's meaning)
//   proxy = env                       https_proxy, else HTTPS_PROXY, else
//                                     all_proxy, else ALL_PROXY (the first
//                                     set and non-empty), unless no_proxy /
//                                     NO_PROXY (tund/no_proxy.hpp) matches
//                                     the intermediary's host; none set:
//                                     connect directly
//
// HTTP CONNECT always sends the name: the proxy resolves it. The port is
// required (no guessed default). A URL may end in one '/' (common in the
// environment) but has no other path. Schemes are case-insensitive; in the
// environment a URL without a scheme is http, as curl reads it. A user name
// or password inside the URL is refused without echoing it: credentials
// come from `proxy-credentials` only. An explicit URL ignores no_proxy.
//
// Messages name the offending text but not the setting's key (LayeredOptions
// adds it, see option_values.hpp); for `env` they name the variable.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "netlib/socket.hpp"

namespace dialout {

enum class ProxyScheme { Http, Socks5 };

struct ProxyServer {
  ProxyScheme scheme = ProxyScheme::Http;
  Endpoint address;  // the proxy's host (a name or a numeric address) and port
  // The proxy resolves the intermediary's name; false (socks5://): tund
  // resolves it and asks for the address.
  bool remote_resolution = true;

  std::string to_string() const;  // "socks5h://proxy.example.net:1080"
  bool operator==(const ProxyServer&) const = default;
};

struct ProxySetting {
  enum class Mode { None, Server, Environment };
  Mode mode = Mode::None;
  ProxyServer server;  // Mode::Server only

  bool operator==(const ProxySetting&) const = default;
};

Expected<ProxySetting, std::string> parse_proxy_setting(std::string_view text);

// One proxy URL; `scheme_optional`: a bare HOST:PORT means http (environment).
Expected<ProxyServer, std::string> parse_proxy_url(std::string_view text, bool scheme_optional);

// The environment, injected: the value of a variable, nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

struct ProxyChoice {
  std::optional<ProxyServer> server;  // nullopt: connect directly
  std::string reason;                 // for the log line: where the choice came from
};

// `proxy = env` for a connection to `target_host` (the intermediary's host
// as configured). Errors name the variable.
Expected<ProxyChoice, std::string> proxy_from_environment(const EnvironmentLookup& lookup, std::string_view target_host);

}  // namespace dialout
