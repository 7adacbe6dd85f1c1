// tund: the site daemon. Owns a TUN device; routes datagrams for remote
// networks to the intermediary (modified router) and repeats datagrams from
// it onto the LAN (proxy client).
#include <linux/capability.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include "netlib/certificate_expiry.hpp"
#include "netlib/control_socket.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/metrics_server.hpp"
#include "netlib/socket.hpp"
#include "netlib/log.hpp"
#include "netlib/option_parsing.hpp"
#include "tund/masquerade.hpp"
#include "tund/netlink.hpp"
#include "tund/netlink_monitor.hpp"
#include "netlib/privileges.hpp"
#include "netlib/sd_notify.hpp"
#include "tund/sysctl.hpp"
#include "netlib/tls.hpp"
#include "netlib/vnet_header.hpp"
#include "tund/netlink_host_network.hpp"
#include "tund/netlink_route_installer.hpp"
#include "tund/proxy_route.hpp"
#include "tund/site_config.hpp"
#include "tund/site_control.hpp"
#include "tund/dns_link.hpp"
#include "tund/site_engine.hpp"
#include "tund/tun_device.hpp"

using namespace dialout;

namespace {
// A configuration or file error (bad key, unreadable certificate or policy,
// unknown --user) exits with kExitUsage (64) like a bad flag, so the units
// do not restart it; 78 is only for a refusal by the intermediary (tund).

// Masquerade only helps when the kernel forwards tunnel datagrams on to the
// LAN; say so at start rather than leave the operator wondering.
void warn_unless_forwarding(Logger& log) {
  auto v4 = read_sysctl("net/ipv4/ip_forward");
  if (v4 && *v4 != "1")
    log.warn("masquerade: net.ipv4.ip_forward is off: datagrams from the tunnel will not reach the LAN");
}

int run(const SiteConfig& config) {
  Logger log("tund", config.log_level);
  auto tls = TlsContext::client(config.tls);
  if (!tls) {
    log.error("TLS: {}", tls.error());
    return kExitUsage;
  }
  const unsigned queues = resolved_queues(config);
  // Loaded now, like the main context: the files may be unreadable once
  // privileges are dropped.
  std::vector<TlsContext> worker_tls;
  for (unsigned q = 0; q < queues; ++q) {
    auto t = worker_tls_context(*tls);
    if (!t) {
      log.error("{}", t.error());
      return kExitUsage;
    }
    worker_tls.push_back(std::move(*t));
  }
  // One queue keeps the plain single-queue device (IFF_MULTI_QUEUE off), as before.
  auto tun = TunDevice::open(
      TunOptions{.name = config.tun_name, .vnet_hdr = config.offload, .multi_queue = queues > 1, .queues = queues});
  if (!tun) {
    log.error("{}", tun.error());
    return 1;
  }
  auto netlink = Netlink::open();
  if (!netlink) {
    log.error("netlink: {}", netlink.error());
    return 1;
  }
  auto ifindex = netlink->ifindex(tun->name());
  if (!ifindex) {
    log.error("{}", ifindex.error());
    return 1;
  }
  for (const auto& a : config.tun_addresses) {
    if (auto ok = netlink->add_address(*ifindex, a.addr, a.len); !ok) {
      log.error("{}", ok.error());
      return 1;
    }
  }
  if (auto ok = netlink->set_link(*ifindex, true, config.mtu); !ok) {
    log.error("{}", ok.error());
    return 1;
  }
  if (config.offload) {
    // The intermediary refuses larger superpackets from a peer; the router
    // cuts what the kernel still builds, so this only saves that work.
    constexpr auto segs = static_cast<unsigned>(kMaxGsoSegments);
    if (auto ok = netlink->set_gso_max_segs(*ifindex, segs); !ok)
      log.info("{} (superpackets of more segments are cut in software)", ok.error());
    else
      log.debug("TUN {}: gso_max_segs {}", tun->name(), segs);
  }
  log.info("TUN {} up (mtu {}, offloads {}, {} queue(s))", tun->name(), config.mtu, config.offload ? "on" : "off",
           queues);

  std::optional<Masquerade> masquerade;
  if (config.masquerade) {
    auto m = Masquerade::install(tun->name(), config.nft_path);
    if (!m) {
      log.error("masquerade: {}", m.error());
      return 1;
    }
    log.info("masquerade: installed nft tables 'ip {0}' and 'ip6 {0}': iifname {1} oifname != {1} masquerade",
             m->table_name(), tun->name());
    warn_unless_forwarding(log);
    masquerade = std::move(*m);
  }

  // Roaming: our own routes and addresses on the TUN device are no change.
  std::optional<NetlinkMonitor> monitor;
  if (auto m = NetlinkMonitor::open({*ifindex})) {
    monitor = std::move(*m);
  } else {
    log.warn("network change monitor: {}; roaming detection is off", m.error());
  }

  // The credentials file may be readable by root only: read it now.
  auto proxy = load_proxy_route(config.proxy, config.proxy_credentials, config.intermediary.host,
                                [](std::string_view name) -> std::optional<std::string> {
                                  const char* v = std::getenv(std::string(name).c_str());
                                  if (v == nullptr) return std::nullopt;
                                  return std::string(v);
                                });
  if (!proxy) {
    log.error("{}", proxy.error());
    return kExitUsage;
  }
  if (proxy->route) log.info("connecting through {} ({})", proxy->route->server.to_string(), proxy->reason);
  else if (config.proxy.mode != ProxySetting::Mode::None) log.info("connecting directly ({})", proxy->reason);

  // Bound before privileges go: /run/dialout is root's, the port may be low.
  std::optional<UniqueFd> control_fd;
  if (config.control_socket != "none") {
    if (auto fd = open_control_socket(config.control_socket, config.control_group)) {
      control_fd = std::move(*fd);
      log.info("control socket {}", config.control_socket);
    } else {
      // Tunnels matter more than the admin tool: say so and go on.
      log.warn("control socket off: {}", fd.error());
    }
  }
  std::optional<UniqueFd> metrics_fd;
  if (config.metrics_listen) {
    auto fd = tcp_listen(*config.metrics_listen, 16);
    if (!fd) {
      log.error("metrics-listen {}: {}", config.metrics_listen->to_string(), fd.error());
      return kExitUsage;
    }
    metrics_fd = std::move(*fd);
    log.info("metrics on http://{}/metrics", config.metrics_listen->to_string());
  }

  // The TUN device is open and configured: everything from here on (routes,
  // addresses, proxy neighbours, nft to remove masquerade) needs only
  // CAP_NET_ADMIN. Give up the rest, and with --user uid 0 as well, for
  // this process and anything it runs (which gets CAP_NET_ADMIN as an
  // ambient capability: nft as a non-root uid). Before any thread starts:
  // capabilities are per thread.
  if (!config.user.empty()) {
    if (auto ok = switch_to_user(config.user, {CAP_NET_ADMIN}); !ok) {
      log.error("--user: {}", ok.error());
      return kExitUsage;
    }
  }
  if (auto ok = keep_only_capabilities({CAP_NET_ADMIN}); !ok) {
    log.error("dropping capabilities: {}", ok.error());
    return 1;
  }
  log.info("running as uid {} with CAP_NET_ADMIN only", ::getuid());

  EventLoop loop;
  NetlinkRouteInstaller installer(*netlink, *ifindex, tun->name());
  NetlinkHostNetwork host(*netlink, *ifindex, std::move(monitor));
  // Views over the device's queues; the first is the device itself. One
  // worker thread per queue (one with queues = 1).
  std::vector<std::unique_ptr<TunQueue>> views;
  std::vector<Tun*> queue_ptrs{&*tun};
  for (size_t q = 1; q < tun->queue_count(); ++q) {
    views.push_back(std::make_unique<TunQueue>(*tun, q));
    queue_ptrs.push_back(views.back().get());
  }
  // Split DNS for the TUN link, as the intermediary's policy says (DNS_CONFIG).
  const DnsMethod dns_method = choose_dns_method(config.dns, !config.dns_hook.empty(), resolved_running());
  DnsLink dns(DnsPlanSettings{.method = dns_method, .ifname = tun->name(), .hook = config.dns_hook, .mode = config.dns},
              log);
  switch (dns_method) {
    case DnsMethod::Resolvectl:
      log.info("dns: the intermediary's DNS config goes to {} through resolvectl", tun->name());
      break;
    case DnsMethod::Hook: log.info("dns: the intermediary's DNS config goes to {}", config.dns_hook); break;
    case DnsMethod::None:
      if (config.dns == DnsMode::Auto)
        log.info("dns: no systemd-resolved and no dns-hook: a DNS config from the intermediary is not applied");
      break;
  }
  SiteEngine engine(loop, *tls, std::move(queue_ptrs), installer, host, config, log);
  engine.set_dns(&dns);
  engine.set_worker_tls(std::move(worker_tls));
  engine.set_proxy(std::move(proxy->route));
  engine.on_first_registration([] { sd_notify("READY=1\nSTATUS=registered"); });
  // What SIGHUP and `dialoutctl reload` do.
  // Only the certificate and key: other settings need a restart.
  auto reload = [&]() -> ControlReply {
    auto r = engine.renew_certificate();
    if (!r) {
      // The shipped unit hands the key over as a credential: a copy made at start.
      const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
      std::string hint = creds != nullptr && config.tls.key.starts_with(creds)
                             ? " (the key is a systemd credential copied at start: a new key takes a restart)"
                             : "";
      return {false, "reload failed: " + r.error() + hint + "\n"};
    }
    return {true, *r + " (other settings take a restart)\n"};
  };
  SiteControlContext control_ctx{config.name, config.intermediary.to_string(), reload};
  std::unique_ptr<ControlSocket> control;
  if (control_fd) {
    control = std::make_unique<ControlSocket>(loop, std::move(*control_fd), config.control_socket,
                                              [&](const ControlRequest& r) { return site_control(engine, r, control_ctx); });
  }
  std::unique_ptr<MetricsServer> metrics;
  if (metrics_fd) {
    metrics = std::make_unique<MetricsServer>(loop, std::move(*metrics_fd),
                                              [&] { return site_metrics(engine, config.name); });
  }
  loop.add_signals({SIGTERM, SIGINT, SIGHUP}, [&](int sig) {
    if (sig == SIGHUP) {
      (void)reload();
      return;
    }
    sd_notify("STOPPING=1");
    loop.stop();
  });
  engine.start();
  loop.run();
  engine.stop();  // removes its routes, addresses, proxy neighbours and DNS settings; the TUN device goes with its fd
  if (masquerade) {
    if (auto ok = masquerade->remove(); !ok) {
      log.warn("masquerade: {}", ok.error());
    } else {
      log.info("masquerade: removed nft tables 'ip {0}' and 'ip6 {0}'", masquerade->table_name());
    }
  }
  return engine.exit_code();
}
}  // namespace

int main(int argc, char** argv) {
  // A peer that vanishes mid-write is an error value, not a signal; so is a
  // reader that stops early (`tund --help | grep -q`: the help is longer than
  // one stdio buffer).
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);
  auto parsed = parse_site_config(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  return run(*parsed.config);
}
