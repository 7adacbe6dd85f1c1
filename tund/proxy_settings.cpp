#include "tund/proxy_settings.hpp"

#include <fmt/core.h>

#include <array>
#include <span>

#include "netlib/option_values.hpp"
#include "tund/no_proxy.hpp"

namespace dialout {

namespace {

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

// The first of `names` that is set and not empty.
struct Variable {
  std::string_view name;
  std::string value;
};
std::optional<Variable> first_set(const EnvironmentLookup& lookup, std::span<const std::string_view> names) {
  for (std::string_view name : names) {
    if (auto v = lookup(name); v && !v->empty()) return Variable{name, std::move(*v)};
  }
  return std::nullopt;
}

}  // namespace

std::string ProxyServer::to_string() const {
  const char* scheme_text = scheme == ProxyScheme::Http ? "http" : remote_resolution ? "socks5h" : "socks5";
  return fmt::format("{}://{}", scheme_text, address.to_string());
}

Expected<ProxyServer, std::string> parse_proxy_url(std::string_view text, bool scheme_optional) {
  // Before anything quotes the text: it may hold a password.
  if (text.find('@') != std::string_view::npos) {
    return unexpected(std::string("a user name or password in the proxy URL is not accepted; use proxy-credentials"));
  }
  const std::string expected_form = scheme_optional ? "[SCHEME://]HOST:PORT" : "SCHEME://HOST:PORT";
  ProxyServer server;
  std::string_view rest = text;
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    if (!scheme_optional) {
      return unexpected(fmt::format("{} has no scheme; expected http://, socks5:// or socks5h://", quote(text)));
    }
  } else {
    const std::string scheme = lower(text.substr(0, sep));
    rest = text.substr(sep + 3);
    if (scheme == "http") {
      server.scheme = ProxyScheme::Http;
    } else if (scheme == "socks5" || scheme == "socks5h") {
      server.scheme = ProxyScheme::Socks5;
      server.remote_resolution = scheme == "socks5h";
    } else {
      return unexpected(fmt::format("{}: scheme {} is not supported (http, socks5, socks5h)", quote(text), quote(scheme)));
    }
  }
  if (rest.ends_with("/")) rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    return unexpected(fmt::format("{} has a path; expected {}", quote(text), expected_form));
  }
  // The port is required: "host:port" or "[v6]:port", never a bare v6 literal.
  size_t port_colon = std::string_view::npos;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close != std::string_view::npos && close + 1 < rest.size() && rest[close + 1] == ':') port_colon = close + 1;
  } else {
    port_colon = rest.find(':');
    if (port_colon != std::string_view::npos && rest.find(':', port_colon + 1) != std::string_view::npos) {
      return unexpected(fmt::format("{}: an IPv6 address needs [brackets]", quote(text)));
    }
  }
  if (port_colon == std::string_view::npos) {
    return unexpected(fmt::format("{} has no port; expected {}", quote(text), expected_form));
  }
  auto ep = Endpoint::parse(rest, 0);
  if (!ep) return unexpected(fmt::format("{}: {}", quote(text), ep.error()));
  if (ep->port == 0) return unexpected(fmt::format("{}: port 0", quote(text)));
  server.address = std::move(*ep);
  return server;
}

Expected<ProxySetting, std::string> parse_proxy_setting(std::string_view text) {
  ProxySetting setting;
  if (text == "none") return setting;
  if (text == "env") {
    setting.mode = ProxySetting::Mode::Environment;
    return setting;
  }
  if (text.empty()) return unexpected(std::string("is empty; expected none, env or SCHEME://HOST:PORT"));
  auto server = parse_proxy_url(text, false);
  if (!server) return unexpected(server.error());
  setting.mode = ProxySetting::Mode::Server;
  setting.server = std::move(*server);
  return setting;
}

Expected<ProxyChoice, std::string> proxy_from_environment(const EnvironmentLookup& lookup,
                                                           std::string_view target_host) {
  constexpr std::array<std::string_view, 4> kProxyVariables = {"https_proxy", "HTTPS_PROXY", "all_proxy",
                                                               "ALL_PROXY"};
  constexpr std::array<std::string_view, 2> kNoProxyVariables = {"no_proxy", "NO_PROXY"};
  ProxyChoice choice;
  auto proxy = first_set(lookup, kProxyVariables);
  if (!proxy) {
    choice.reason = "none of https_proxy, HTTPS_PROXY, all_proxy, ALL_PROXY is set";
    return choice;
  }
  auto server = parse_proxy_url(proxy->value, true);
  if (!server) return unexpected(fmt::format("{}: {}", proxy->name, server.error()));
  // Parsed before it is needed, so a bad list fails at start, not on the
  // day the intermediary moves.
  if (auto no_proxy = first_set(lookup, kNoProxyVariables)) {
    auto list = NoProxyList::parse(no_proxy->value);
    if (!list) return unexpected(fmt::format("{}: {}", no_proxy->name, list.error()));
    if (auto entry = list->match(target_host)) {
      choice.reason = fmt::format("{} entry {} matches {}", no_proxy->name, quote(*entry), quote(target_host));
      return choice;
    }
  }
  choice.reason = fmt::format("{}={}", proxy->name, server->to_string());
  choice.server = std::move(*server);
  return choice;
}

}  // namespace dialout
