// The site daemon's engine: one TUN device, a pool of uplinks to the
// intermediary, and the two site roles on top of them — the modified router
// (TUN → longest-prefix match → DATA frame on an uplink) and the proxy
// client (DATA frame → checks → TUN).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/tls.hpp"
#include "router/route_table.hpp"
#include "router/uplink.hpp"
#include "tund/host_network.hpp"
#include "tund/path_watch.hpp"
#include "tund/proxy_client.hpp"
#include "tund/route_installer.hpp"
#include "tund/site_config.hpp"
#include "tund/tun.hpp"

namespace dialout {

struct SiteCounters {
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t drop_no_route = 0;
  uint64_t drop_invalid = 0;
  uint64_t drop_queue_full = 0;
  uint64_t drop_disconnected = 0;
};

class SiteEngine final : public Uplink::Handler {
 public:
  // Exit status when the intermediary refuses us for a reason retrying cannot fix.
  static constexpr int kExitRefused = 78;

  // `host`: assigned addresses, proxy neighbours and roaming (see HostNetwork).
  SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes, HostNetwork& host,
             const SiteConfig& config, Logger& log);
  // Without a host network: an in-memory one (no roaming, nothing proxied).
  SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes, const SiteConfig& config,
             Logger& log);
  ~SiteEngine() override;

  // Resolves the intermediary's address once (for roaming), then dials.
  void start();
  // Stops the uplinks and removes the kernel routes, assigned addresses and
  // proxy neighbours it installed.
  void stop();

  // Called once, when the first uplink has registered (systemd readiness).
  void on_first_registration(std::function<void()> fn) { on_first_registration_ = std::move(fn); }
  int exit_code() const { return exit_code_; }
  size_t ready_uplinks() const;
  const SiteCounters& counters() const { return counters_; }
  const ProxyClient& proxy() const { return proxy_; }
  const RouteTable& routes() const { return routes_; }
  // Addresses the intermediary assigned to this site (laptop mode) and that
  // are on the TUN device.
  const std::set<Prefix>& assigned_addresses() const { return assigned_; }
  // Times the local address towards the intermediary changed and every
  // uplink was redialled.
  uint64_t roams() const { return roams_; }
  void write_status() const;

  // Uplink::Handler
  void on_accepted(Uplink& up, const Accept& accept) override;
  void on_routes(Uplink& up, const Routes& routes) override;
  void on_data(Uplink& up, const DataView& data) override;
  void on_refused(Uplink& up, const Refuse& refuse) override;
  void on_down(Uplink& up) override;

 private:
  SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes,
             std::unique_ptr<HostNetwork> owned, HostNetwork* host, const SiteConfig& config, Logger& log);
  void on_tun_readable();
  void route_datagram(std::span<const uint8_t> whole);
  Uplink* pick_uplink(uint32_t flow_hash);
  void sync_kernel_routes();
  void sync_proxy_neighbours(bool force);
  void apply_assigned(const std::vector<Prefix>& addresses);
  void withdraw_host_state();
  void watch_path();
  void on_host_changed();
  void check_path();
  void flush_dirty();
  void arm_status_timer();

  EventLoop& loop_;
  TlsContext& tls_;
  Tun& tun_;
  RouteInstaller& installer_;
  std::unique_ptr<HostNetwork> own_host_;  // only with the constructor without one
  HostNetwork* host_;                      // never null
  const SiteConfig& config_;
  Logger& log_;
  RateLimitedLog drop_log_;
  Uplink::Settings uplink_settings_;
  std::vector<std::unique_ptr<Uplink>> uplinks_;
  std::vector<Uplink*> dirty_;
  RouteTable routes_;
  std::vector<Prefix> configured_served_;  // --advertise and --tun-address: what proxy_ serves before any assignment
  ProxyClient proxy_;
  std::set<Prefix> installed_;
  SiteId self_id_ = 0;
  std::set<Prefix> assigned_;
  std::map<IpAddr, Prefix> proxied_;  // last set handed to host_.sync_proxy_neighbours
  bool proxy_sync_failed_ = false;
  std::string proxy_error_;  // last error logged, so a persistent one is logged once
  std::optional<IpAddr> intermediary_ip_;
  PathWatch path_;
  EventLoop::TimerId roam_timer_ = 0;
  uint64_t roams_ = 0;
  SiteCounters counters_;
  std::vector<uint8_t> rx_;
  std::function<void()> on_first_registration_;
  bool registered_once_ = false;
  int exit_code_ = 0;
  EventLoop::TimerId status_timer_ = 0;
};

}  // namespace dialout
