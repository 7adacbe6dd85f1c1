// tund's settings: command line layered over the --config file, validated in
// full at start so a bad value stops the daemon before it touches the network.
// Keys, defaults and meanings: docs/configuration.md (and `tund --help`).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "netlib/ip_address.hpp"
#include "netlib/log.hpp"
#include "netlib/option_parsing.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls.hpp"
#include "tund/dns_plan.hpp"
#include "tund/prefix_mapping.hpp"
#include "tund/proxy_settings.hpp"

namespace dialout {

// "10.2.0.0/24=office-b": send this prefix to that site even when the
// intermediary's route updates do not name it.
struct StaticRoute {
  Prefix prefix;  // canonical
  std::string name;
  bool operator==(const StaticRoute&) const = default;
};

struct SiteConfig {
  std::string name;              // --name, required, valid_site_name
  Endpoint intermediary;         // --intermediary HOST[:PORT], required, default port 443
  std::string server_name;       // --server-name, default: intermediary.host
  TlsFiles tls;                  // --cert --key --ca, required and readable (crl unused)
  std::string tun_name = "dl0";  // --tun, a valid Linux interface name
  // --tun-address, repeatable, "10.255.1.1/24": NOT canonical prefixes. `addr`
  // holds the interface's full address (host bits kept) and `len` the
  // on-link prefix length, as `ip addr add` takes them.
  std::vector<Prefix> tun_addresses;
  unsigned mtu = 1500;                     // --mtu 576..65535
  // --advertise, repeatable: the prefixes this site registers and serves,
  // canonical, non-overlapping. For "IN as OUT" it holds OUT (what everyone
  // else sees); the pair is in `translations` as well.
  std::vector<Prefix> advertise;
  std::vector<PrefixMapping> translations;  // the "IN as OUT" entries of --advertise only
  std::vector<StaticRoute> static_routes;  // --static-route PREFIX=NAME, repeatable
  bool router_role = true;                 // --roles router,proxy (either or both)
  bool proxy_role = true;
  unsigned connections = 0;                        // --connections 1..64; 0 = the daemon chooses
  unsigned queues = 0;                             // --queues 1..16; 0 = auto (see resolved_queues)
  bool offload = true;                             // --offload on|off
  bool request_address = false;                    // --request-address on|off (laptop mode; needs the proxy role)
  bool proxy_arp = true;                           // --proxy-arp on|off (laptops numbered inside --advertise)
  bool masquerade = false;                         // --masquerade on|off (one-armed; needs the proxy role)
  std::chrono::milliseconds keepalive{5000};       // --keepalive-ms >= 100
  std::chrono::milliseconds dead_after{15000};     // --dead-after-ms > keepalive-ms
  std::chrono::milliseconds reconnect_min{200};    // --reconnect-min-ms >= 10
  std::chrono::milliseconds reconnect_max{10000};  // --reconnect-max-ms >= reconnect-min-ms
  // Caps on a relay's RESTARTING notice: its hint, and the window it asks
  // sites to spread their reconnects over (0: reconnect at the hint).
  std::chrono::milliseconds restart_hint_max{60000};     // --restart-hint-max-ms 0..600000
  std::chrono::milliseconds restart_window_max{300000};  // --restart-window-max-ms 0..600000
  // After a refusal only a change elsewhere heals (policy, name or prefix
  // conflict): retry this often; 0 exits instead (status 78).
  std::chrono::milliseconds refused_retry{60000};  // --refused-retry-ms 0..3600000
  std::string status_file;                         // --status-file, optional
  // --proxy none|http://H:P|socks5://H:P|socks5h://H:P|env (tund/proxy_settings.hpp);
  // every connection goes through it. Credentials: read at start by
  // load_proxy_route (tund/proxy_route.hpp), before privileges are dropped.
  ProxySetting proxy;
  std::string proxy_credentials;  // --proxy-credentials FILE (user:password), needs --proxy
  // Learned (pushed) routes: at most this many prefixes in the tunnel,
  // each held that long after its last push; pushed prefixes inside an
  // allowed one skip the default-route, own-prefix and connected-network
  // checks (never the intermediary-address one). See RouteTable.
  size_t max_learned_routes = 1024;                      // --max-learned-routes 1..65536
  std::chrono::milliseconds learned_route_hold{600'000};  // --learned-route-hold-ms 0..86400000
  std::vector<Prefix> allow_learned_routes;              // --allow-learned-route, repeatable, canonical
  std::string user;                                      // --user: run as this account after setup
  std::string nft_path = "/usr/sbin/nft";                // --nft-path, absolute (masquerade)
  // How the intermediary's DNS config (split DNS for the TUN link) is
  // applied: --dns auto|resolvectl|hook|off; --dns-hook FILE, absolute
  // (tund/dns_plan.hpp). hook needs dns-hook; resolvectl and off refuse one.
  DnsMode dns = DnsMode::Auto;
  std::string dns_hook;
  LogLevel log_level = LogLevel::Info;             // --log-level debug|info|warn|error
  // --control-socket PATH or none; --control-group NAME (empty: root only)
  std::string control_socket = "/run/dialout/tund.sock";
  std::string control_group;
  std::optional<Endpoint> metrics_listen;  // --metrics-listen HOST:PORT, off by default
};

// config is set only when the daemon should run (exit_code 0, text empty).
// Otherwise text is the --help/--version output (exit_code 0, print to
// stdout) or the refusal naming key and problem (exit_code 64, print to
// stderr). text ends with a newline: print it as is.
struct SiteConfigResult {
  std::optional<SiteConfig> config;
  std::string text;
  int exit_code = 0;
};

SiteConfigResult parse_site_config(int argc, const char* const* argv);

// TUN queues (and worker threads) to run: config.queues, or for auto
// min(online CPUs, 4).
unsigned resolved_queues(const SiteConfig& config);
// Same, with the file system injected (tests, fuzzer).
SiteConfigResult parse_site_config(int argc, const char* const* argv, const ConfigEnvironment& env);

}  // namespace dialout
