#include "tund/site_config.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <thread>

#include "netlib/ops_options.hpp"
#include "netlib/option_values.hpp"
#include "netlib/site_name.hpp"

namespace dialout {

namespace {

constexpr std::string_view kAbout =
    "Usage: tund [--config FILE] [--KEY VALUE]...\n"
    "dialout site daemon: owns one TUN device, dials out over TLS to the intermediary,\n"
    "sends this site's traffic for remote networks (router role) and repeats traffic\n"
    "for this site's LAN (proxy role).";

constexpr uint64_t kMaxMillis = 3'600'000;  // one hour: beyond that a timer is a mistake
// Holding a withdrawn route for a day still bounds the table (by the cap).
constexpr uint64_t kMaxHoldMillis = 86'400'000;
constexpr uint64_t kMaxLearnedRoutes = 65'536;

// clang-format off: one row per setting reads better than wrapped calls.
std::vector<OptionSpec> site_specs() {
  const SiteConfig d;
  auto ms = [](std::chrono::milliseconds v) { return std::to_string(v.count()); };
  return {
      {"name", "NAME",
       "Virtual-address name this site registers (1..63 of a-z 0-9 . _ -). Required."},
      {"intermediary", "HOST[:PORT]", "Intermediary to dial (port default 443). Required."},
      {"server-name", "NAME",
       "Name expected in the intermediary's certificate (default: the host of --intermediary)."},
      {"cert", "FILE", "PEM certificate chain of this site. Required."},
      {"key", "FILE", "PEM private key of --cert. Required."},
      {"ca", "FILE", "PEM CA the intermediary's certificate must chain to. Required."},
      {"tun", "IFNAME",
       fmt::format("TUN device name, at most 15 characters (default {}).", d.tun_name)},
      {"tun-address", "ADDR/LEN",
       "Address for the TUN device with its prefix length, e.g. 10.255.1.1/24; repeatable (default "
       "none).",
       true},
      {"mtu", "BYTES", fmt::format("MTU of the TUN device, 576..65535 (default {}).", d.mtu)},
      {"advertise", "PREFIX[ as PREFIX]",
       "LAN prefix this site serves, e.g. 10.1.0.0/24; '192.168.1.0/24 as 10.101.0.0/24' serves "
       "that LAN under the second prefix (1:1 translation, same family and length); repeatable, "
       "must not overlap (default none).",
       true},
      {"static-route", "PREFIX=NAME",
       "Send PREFIX to site NAME without waiting for route updates; repeatable (default none).",
       true},
      {"roles", "LIST", "Roles to run: router, proxy, or router,proxy (default router,proxy)."},
      {"connections", "N", "TLS connections to the intermediary, 1..64, or auto (default auto)."},
      {"queues", "N",
       fmt::format("TUN queues, each with a worker thread and its share of the connections, 1..16, "
                   "or auto = min(CPUs, 4) (default {}).",
                   d.queues == 0 ? std::string("auto") : std::to_string(d.queues))},
      {"offload", "on|off",
       fmt::format("TUN offloads (IFF_VNET_HDR, 64 KB superpackets) (default {}).",
                   d.offload ? "on" : "off")},
      {"request-address", "on|off",
       fmt::format("Laptop mode: ask the intermediary for an address and put it on the TUN device "
                   "(default {}).",
                   d.request_address ? "on" : "off")},
      {"proxy-arp", "on|off",
       fmt::format("Answer ARP/NDP on the LAN for remote laptops numbered inside --advertise "
                   "(default {}).",
                   d.proxy_arp ? "on" : "off")},
      {"masquerade", "on|off",
       fmt::format("Source-NAT datagrams from the tunnel behind this host's LAN address "
                   "(one-armed proxy client) (default {}).",
                   d.masquerade ? "on" : "off")},
      {"keepalive-ms", "MS",
       fmt::format("Ping interval on an idle connection, >= 100 (default {}).", ms(d.keepalive))},
      {"dead-after-ms", "MS",
       fmt::format("Drop a connection silent this long, > keepalive-ms (default {}).",
                   ms(d.dead_after))},
      {"reconnect-min-ms", "MS",
       fmt::format("Shortest reconnect delay, >= 10 (default {}).", ms(d.reconnect_min))},
      {"reconnect-max-ms", "MS",
       fmt::format("Longest reconnect delay, >= reconnect-min-ms (default {}).",
                   ms(d.reconnect_max))},
      {"restart-hint-max-ms", "MS",
       fmt::format("After a relay's restart notice wait at most this long before reconnecting, whatever it "
                   "asks, 0..600000 (default {}).",
                   ms(d.restart_hint_max))},
      {"restart-window-max-ms", "MS",
       fmt::format("Spread that reconnect over at most this much of the window the relay announces; 0: "
                   "reconnect at the hint (an office that should come back before the laptops), 0..600000 "
                   "(default {}).",
                   ms(d.restart_window_max))},
      {"refused-retry-ms", "MS",
       fmt::format("After a refusal only a change elsewhere can heal (name or prefix not allowed by the policy, "
                   "or held by another site), retry this often, quietly; 0: exit with status 78 instead, "
                   "0..3600000 (default {}).",
                   ms(d.refused_retry))},
      {"status-file", "FILE",
       "Write counters here ('key value' lines, replaced atomically) (default none)."},
      {"proxy", "URL",
       "Reach the intermediary through this proxy: http://HOST:PORT (CONNECT), socks5h://HOST:PORT, "
       "socks5://HOST:PORT, env (https_proxy/all_proxy, honouring no_proxy) or none (default none)."},
      {"proxy-credentials", "FILE",
       "File holding user:password for --proxy (one line, mode 600 or 640) (default none)."},
      {"max-learned-routes", "N",
       fmt::format("Prefixes learned from the intermediary routed into the tunnel at most, "
                   "1..{} (default {}).",
                   kMaxLearnedRoutes, d.max_learned_routes)},
      {"learned-route-hold-ms", "MS",
       fmt::format("Keep a withdrawn learned prefix in the tunnel this long, so its traffic is "
                   "dropped rather than sent out of the default route, 0..{} (default {}).",
                   kMaxHoldMillis, ms(d.learned_route_hold))},
      {"allow-learned-route", "PREFIX",
       "Accept learned prefixes inside PREFIX even when they are a default route, cover this "
       "site's advertised prefixes or overlap a connected network; repeatable (default none).",
       true},
      {"user", "NAME",
       "After setup, switch to this account keeping only CAP_NET_ADMIN (default: stay, e.g. "
       "under systemd's DynamicUser)."},
      {"nft-path", "FILE",
       fmt::format("Absolute path of the nft program run for masquerade (default {}).",
                   d.nft_path)},
      {"dns", "MODE",
       "Apply the resolvers and domains the intermediary gives this site to the TUN link: auto (dns-hook if "
       "set, else resolvectl when systemd-resolved runs, else nothing), resolvectl, hook, or off "
       "(default auto)."},
      {"dns-hook", "FILE",
       "Absolute path of a program run as 'FILE up IFNAME' / 'FILE down IFNAME' with DIALOUT_DNS_SERVERS, "
       "DIALOUT_DNS_DOMAINS and DIALOUT_INTERFACE in its environment (default none)."},
      {"log-level", "LEVEL",
       fmt::format("debug, info, warn or error (default {}).", log_level_key(d.log_level))},
  };
}
// clang-format on

void parse_roles(const LayeredOptions& o, SiteConfig& c) {
  auto text = o.value("roles");
  if (!text) return;
  c.router_role = c.proxy_role = false;
  std::string_view rest = *text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view role = rest.substr(0, comma);
    while (!role.empty() && role.front() == ' ') role.remove_prefix(1);
    while (!role.empty() && role.back() == ' ') role.remove_suffix(1);
    if (role == "router") {
      c.router_role = true;
    } else if (role == "proxy") {
      c.proxy_role = true;
    } else {
      o.fail("roles", *text,
             fmt::format("unknown role {} (expected router, proxy or router,proxy)", quote(role)));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
}

void parse_tun_addresses(const LayeredOptions& o, SiteConfig& c) {
  for (const auto& t : o.values("tun-address")) {
    Prefix a = o.check<Prefix>("tun-address", t, parse_interface_address);
    for (const auto& prev : c.tun_addresses) {
      if (prev.addr == a.addr)
        o.fail("tun-address", t, fmt::format("{}: address given twice", quote(t)));
    }
    c.tun_addresses.push_back(a);
  }
}

void parse_advertise(const LayeredOptions& o, SiteConfig& c) {
  std::vector<PrefixMapping> all;
  for (const auto& t : o.values("advertise")) {
    PrefixMapping m = o.check<PrefixMapping>("advertise", t, parse_prefix_mapping);
    auto overlap = [](const Prefix& a, const Prefix& b) { return a.contains(b) || b.contains(a); };
    for (const auto& prev : all) {
      // What is registered must not overlap (the intermediary would refuse
      // it anyway); the LAN ranges behind them neither, or a datagram would
      // have two translations; and a LAN range hidden behind a translation
      // must not be another entry's registered prefix.
      if (overlap(prev.outside, m.outside))
        o.fail("advertise", t, fmt::format("{} overlaps {}", quote(t), prev.outside.to_string()));
      if (overlap(prev.inside, m.inside))
        o.fail("advertise", t, fmt::format("{}: LAN range {} overlaps {}", quote(t), m.inside.to_string(),
                                           prev.inside.to_string()));
      if ((m.translated() && overlap(m.inside, prev.outside)) || (prev.translated() && overlap(prev.inside, m.outside)))
        o.fail("advertise", t,
               fmt::format("{}: a translated LAN range and an advertised prefix overlap ({} / {})", quote(t),
                           m.translated() ? m.inside.to_string() : m.outside.to_string(),
                           m.translated() ? prev.outside.to_string() : prev.inside.to_string()));
    }
    all.push_back(m);
    c.advertise.push_back(m.outside);
    if (m.translated()) c.translations.push_back(m);
  }
}

void parse_static_routes(const LayeredOptions& o, SiteConfig& c) {
  for (const auto& t : o.values("static-route")) {
    size_t eq = t.find('=');
    if (eq == std::string::npos) {
      o.fail("static-route", t,
             fmt::format("{} is not PREFIX=NAME (e.g. 10.2.0.0/24=office-b)", quote(t)));
    }
    StaticRoute r;
    r.prefix = o.check<Prefix>("static-route", t, [&](std::string_view) {
      return parse_canonical_prefix(std::string_view(t).substr(0, eq));
    });
    r.name = t.substr(eq + 1);
    if (!valid_site_name(r.name)) {
      o.fail("static-route", t,
             fmt::format("{} is not a valid site name (1..63 of a-z 0-9 . _ -)", quote(r.name)));
    }
    if (r.name == c.name)
      o.fail("static-route", t, fmt::format("{} routes to this site itself", quote(t)));
    for (const auto& prev : c.static_routes) {
      if (prev.prefix == r.prefix) {
        o.fail("static-route", t, fmt::format("prefix {} is given twice", r.prefix.to_string()));
      }
    }
    c.static_routes.push_back(std::move(r));
  }
}

void parse_timers(const LayeredOptions& o, SiteConfig& c) {
  c.keepalive = o.millis("keepalive-ms", 100, kMaxMillis, c.keepalive);
  c.dead_after = o.millis("dead-after-ms", 1, kMaxMillis, c.dead_after);
  if (c.dead_after <= c.keepalive) {
    // Name the key the user set: a keepalive raised past the default dead-after is the usual cause.
    std::string key = o.given("dead-after-ms") ? "dead-after-ms" : "keepalive-ms";
    o.fail(key, *o.value(key),
           fmt::format("dead-after-ms ({}) must be greater than keepalive-ms ({})",
                       c.dead_after.count(), c.keepalive.count()));
  }
  c.reconnect_min = o.millis("reconnect-min-ms", 10, kMaxMillis, c.reconnect_min);
  c.reconnect_max = o.millis("reconnect-max-ms", 10, kMaxMillis, c.reconnect_max);
  c.restart_hint_max = o.millis("restart-hint-max-ms", 0, 600000, c.restart_hint_max);
  c.restart_window_max = o.millis("restart-window-max-ms", 0, 600000, c.restart_window_max);
  c.refused_retry = o.millis("refused-retry-ms", 0, 3600000, c.refused_retry);
  if (c.reconnect_max < c.reconnect_min) {
    std::string key = o.given("reconnect-max-ms") ? "reconnect-max-ms" : "reconnect-min-ms";
    o.fail(key, *o.value(key),
           fmt::format("reconnect-max-ms ({}) must not be below reconnect-min-ms ({})",
                       c.reconnect_max.count(), c.reconnect_min.count()));
  }
}

void parse_learned_routes(const LayeredOptions& o, SiteConfig& c) {
  c.max_learned_routes = static_cast<size_t>(
      o.number("max-learned-routes", 1, kMaxLearnedRoutes, c.max_learned_routes));
  c.learned_route_hold = o.millis("learned-route-hold-ms", 0, kMaxHoldMillis, c.learned_route_hold);
  for (const auto& t : o.values("allow-learned-route")) {
    Prefix p = o.check<Prefix>("allow-learned-route", t, parse_canonical_prefix);
    if (std::find(c.allow_learned_routes.begin(), c.allow_learned_routes.end(), p) !=
        c.allow_learned_routes.end())
      o.fail("allow-learned-route", t, fmt::format("prefix {} is given twice", p.to_string()));
    c.allow_learned_routes.push_back(p);
  }
}

void parse_privileges(const LayeredOptions& o, SiteConfig& c) {
  if (auto t = o.value("user")) {
    if (t->empty()) o.fail("user", *t, "is empty");
    c.user = *t;
  }
  if (auto t = o.value("nft-path")) {
    // Never looked up through PATH: whoever sets PATH would choose what
    // runs with CAP_NET_ADMIN.
    if (t->empty() || t->front() != '/')
      o.fail("nft-path", *t, fmt::format("{} is not an absolute path (e.g. /usr/sbin/nft)", quote(*t)));
    c.nft_path = *t;
  }
}

void parse_dns(const LayeredOptions& o, SiteConfig& c) {
  if (auto t = o.value("dns")) {
    if (*t == "auto") c.dns = DnsMode::Auto;
    else if (*t == "resolvectl") c.dns = DnsMode::Resolvectl;
    else if (*t == "hook") c.dns = DnsMode::Hook;
    else if (*t == "off") c.dns = DnsMode::Off;
    else o.fail("dns", *t, fmt::format("unknown mode {} (expected auto, resolvectl, hook or off)", quote(*t)));
  }
  if (auto t = o.value("dns-hook")) {
    // Like nft-path: never looked up through PATH.
    if (t->empty() || t->front() != '/')
      o.fail("dns-hook", *t, fmt::format("{} is not an absolute path", quote(*t)));
    c.dns_hook = o.readable_file("dns-hook", true);
  }
  if (c.dns == DnsMode::Hook && c.dns_hook.empty()) o.fail("dns", "hook", "needs dns-hook (the program to run)");
  if (!c.dns_hook.empty() && (c.dns == DnsMode::Resolvectl || c.dns == DnsMode::Off))
    o.fail("dns-hook", c.dns_hook, fmt::format("has no effect with dns = {}", to_string(c.dns)));
}

SiteConfig build(const LayeredOptions& o) {
  SiteConfig c;
  c.name = o.required("name");
  if (!valid_site_name(c.name)) {
    o.fail("name", c.name,
           fmt::format("{} is not a valid site name (1..63 chars of a-z 0-9 . _ -, starting with a "
                       "letter or digit)",
                       quote(c.name)));
  }
  std::string intermediary = o.required("intermediary");
  c.intermediary = o.check<Endpoint>("intermediary", intermediary,
                                     [](std::string_view t) { return Endpoint::parse(t, 443); });
  if (c.intermediary.port == 0) o.fail("intermediary", intermediary, "port 0 cannot be dialled");
  c.server_name = o.value("server-name").value_or(c.intermediary.host);
  if (c.server_name.empty()) o.fail("server-name", c.server_name, "is empty");
  c.tls.cert = o.readable_file("cert", true);
  c.tls.key = o.readable_file("key", true);
  c.tls.ca = o.readable_file("ca", true);
  if (auto t = o.value("tun")) c.tun_name = o.check<std::string>("tun", *t, parse_interface_name);
  parse_tun_addresses(o, c);
  c.mtu = static_cast<unsigned>(o.number("mtu", 576, 65535, c.mtu));
  parse_advertise(o, c);
  parse_static_routes(o, c);
  parse_roles(o, c);
  if (auto t = o.value("connections"); t && *t != "auto" && *t != "0") {
    c.connections = static_cast<unsigned>(o.check<uint64_t>(
        "connections", *t, [](std::string_view s) -> Expected<uint64_t, std::string> {
          auto n = parse_bounded_uint(s, 1, 64);
          if (!n) return unexpected(n.error() + ", or auto");
          return n;
        }));
  }
  if (auto t = o.value("queues")) {
    c.queues = *t == "auto" ? 0u
                            : static_cast<unsigned>(o.check<uint64_t>(
                                  "queues", *t, [](std::string_view s) -> Expected<uint64_t, std::string> {
                                    if (s == "0") return 0;
                                    auto n = parse_bounded_uint(s, 1, 16);
                                    if (!n) return unexpected(n.error() + ", or auto");
                                    return n;
                                  }));
  }
  c.offload = o.on_off("offload", c.offload);
  c.request_address = o.on_off("request-address", c.request_address);
  c.proxy_arp = o.on_off("proxy-arp", c.proxy_arp);
  c.masquerade = o.on_off("masquerade", c.masquerade);
  // Both only act on datagrams the proxy role receives.
  for (const char* key : {"request-address", "masquerade"}) {
    if (o.on_off(key, false) && !c.proxy_role)
      o.fail(key, "on", fmt::format("{} needs the proxy role (--roles router,proxy or proxy)", key));
  }
  parse_timers(o, c);
  c.status_file = o.value("status-file").value_or("");
  if (auto t = o.value("proxy")) c.proxy = o.check<ProxySetting>("proxy", *t, parse_proxy_setting);
  c.proxy_credentials = o.readable_file("proxy-credentials", false);
  if (!c.proxy_credentials.empty() && c.proxy.mode == ProxySetting::Mode::None)
    o.fail("proxy-credentials", c.proxy_credentials, "has no effect without proxy");
  parse_learned_routes(o, c);
  parse_privileges(o, c);
  parse_dns(o, c);
  c.log_level = o.log_level("log-level", c.log_level);
  c.control_socket = o.value("control-socket").value_or(c.control_socket);
  c.control_group = o.value("control-group").value_or("");
  c.metrics_listen = metrics_endpoint(o);
  return c;
}

}  // namespace

SiteConfigResult parse_site_config(int argc, const char* const* argv,
                                   const ConfigEnvironment& env) {
  std::vector<OptionSpec> specs = site_specs();
  for (auto& o : ops_option_specs(SiteConfig{}.control_socket)) specs.push_back(std::move(o));
  return parse_daemon_config<SiteConfigResult>("tund", kAbout, specs, build, argc, argv, env);
}

SiteConfigResult parse_site_config(int argc, const char* const* argv) {
  return parse_site_config(argc, argv, system_environment());
}

unsigned resolved_queues(const SiteConfig& config) {
  if (config.queues != 0) return config.queues;
  return std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
}

}  // namespace dialout
