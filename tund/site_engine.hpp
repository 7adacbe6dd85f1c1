// The site daemon's engine: one TUN device, a pool of uplinks to the
// intermediary, and the two site roles on top of them — the modified router
// (TUN → longest-prefix match → DATA frame on an uplink) and the proxy
// client (DATA frame → checks → TUN).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <vector>

#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/tls.hpp"
#include "router/route_table.hpp"
#include "router/uplink.hpp"
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

  SiteEngine(EventLoop& loop, TlsContext& tls, Tun& tun, RouteInstaller& routes, const SiteConfig& config,
             Logger& log);
  ~SiteEngine() override;

  void start();
  // Stops the uplinks and removes the kernel routes it installed.
  void stop();

  // Called once, when the first uplink has registered (systemd readiness).
  void on_first_registration(std::function<void()> fn) { on_first_registration_ = std::move(fn); }
  int exit_code() const { return exit_code_; }
  size_t ready_uplinks() const;
  const SiteCounters& counters() const { return counters_; }
  const ProxyClient& proxy() const { return proxy_; }
  const RouteTable& routes() const { return routes_; }
  void write_status() const;

  // Uplink::Handler
  void on_accepted(Uplink& up, const Accept& accept) override;
  void on_routes(Uplink& up, const Routes& routes) override;
  void on_data(Uplink& up, const DataView& data) override;
  void on_refused(Uplink& up, const Refuse& refuse) override;
  void on_down(Uplink& up) override;

 private:
  void on_tun_readable();
  void route_datagram(std::span<const uint8_t> whole);
  Uplink* pick_uplink(uint32_t flow_hash);
  void sync_kernel_routes();
  void flush_dirty();
  void arm_status_timer();

  EventLoop& loop_;
  TlsContext& tls_;
  Tun& tun_;
  RouteInstaller& installer_;
  const SiteConfig& config_;
  Logger& log_;
  RateLimitedLog drop_log_;
  Uplink::Settings uplink_settings_;
  std::vector<std::unique_ptr<Uplink>> uplinks_;
  std::vector<Uplink*> dirty_;
  RouteTable routes_;
  ProxyClient proxy_;
  std::set<Prefix> installed_;
  SiteCounters counters_;
  std::vector<uint8_t> rx_;
  std::function<void()> on_first_registration_;
  bool registered_once_ = false;
  int exit_code_ = 0;
  EventLoop::TimerId status_timer_ = 0;
};

}  // namespace dialout
