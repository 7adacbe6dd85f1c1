// tund: the site daemon. Owns a TUN device; routes datagrams for remote
// networks to the intermediary (modified router) and repeats datagrams from
// it onto the LAN (proxy client).
#include <csignal>
#include <cstdio>

#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/netlink.hpp"
#include "netlib/sd_notify.hpp"
#include "netlib/tls.hpp"
#include "tund/netlink_route_installer.hpp"
#include "tund/site_config.hpp"
#include "tund/site_engine.hpp"
#include "tund/tun_device.hpp"

using namespace dialout;

namespace {
constexpr int kExitConfig = 78;  // EX_CONFIG

int run(const SiteConfig& config) {
  Logger log("tund", config.log_level);
  auto tls = TlsContext::client(config.tls);
  if (!tls) {
    log.error("TLS: {}", tls.error());
    return kExitConfig;
  }
  auto tun = TunDevice::open(TunOptions{.name = config.tun_name, .vnet_hdr = config.offload, .multi_queue = false, .queues = 1});
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
  log.info("TUN {} up (mtu {}, offloads {})", tun->name(), config.mtu, config.offload ? "on" : "off");

  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, nullptr);

  EventLoop loop;
  NetlinkRouteInstaller installer(*netlink, *ifindex, tun->name());
  SiteEngine engine(loop, *tls, *tun, installer, config, log);
  engine.on_first_registration([] { sd_notify("READY=1\nSTATUS=registered"); });
  loop.add_signals({SIGTERM, SIGINT, SIGHUP}, [&](int sig) {
    if (sig == SIGHUP) {
      log.info("SIGHUP: nothing to reload in tund (restart to apply configuration changes)");
      return;
    }
    sd_notify("STOPPING=1");
    loop.stop();
  });
  engine.start();
  loop.run();
  engine.stop();  // removes the routes it installed; the TUN device goes with its fd
  return engine.exit_code();
}
}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_site_config(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.text.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  return run(*parsed.config);
}
