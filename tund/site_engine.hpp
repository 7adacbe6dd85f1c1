// The site daemon's control plane: routes, served prefixes, assigned
// addresses, roaming and status, on the caller's loop. The data moves
// elsewhere: each TUN queue (one, or K of a multi-queue device) gets a
// QueueWorker thread with its share of the uplinks to the intermediary,
// running the two site roles between them (router and proxy client, in
// DataPath). The engine publishes a read-only view (routes, served
// prefixes) to the workers and hears their uplinks' control events through
// a mailbox; it never owns an uplink or a data path itself.
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
#include "netlib/mailbox.hpp"
#include "netlib/shared_snapshot.hpp"
#include "netlib/tls.hpp"
#include "router/route_table.hpp"
#include "tund/uplink.hpp"
#include "tund/dns_link.hpp"
#include "tund/host_network.hpp"
#include "tund/path_watch.hpp"
#include "tund/preferred_source.hpp"
#include "tund/queue_worker.hpp"
#include "tund/route_installer.hpp"
#include "tund/site_config.hpp"
#include "tund/site_counters.hpp"
#include "tund/tun.hpp"

namespace dialout {

class SiteEngine final {
 public:
  // Exit status when the intermediary refuses us for a reason retrying cannot fix.
  static constexpr int kExitRefused = 78;

  // One worker thread per queue (the queues of one TUN device; at least
  // one). Each worker makes its own TLS client context from tls.files()
  // unless set_worker_tls() gave it one. `host`: assigned addresses, proxy
  // neighbours and roaming (see HostNetwork).
  SiteEngine(EventLoop& loop, TlsContext& tls, std::vector<Tun*> queues, RouteInstaller& routes, HostNetwork& host,
             const SiteConfig& config, Logger& log);
  ~SiteEngine();
  SiteEngine(const SiteEngine&) = delete;
  SiteEngine& operator=(const SiteEngine&) = delete;

  // TLS client contexts for the queue workers, one each, loaded by the
  // caller (tund loads them before dropping privileges, like the main one).
  // Without them start() loads them from tls.files() itself.
  void set_worker_tls(std::vector<TlsContext> contexts) { worker_tls_ = std::move(contexts); }
  // Every uplink dials through this proxy (tund/proxy_route.hpp); call
  // before start(). Roaming and the learned-route check then watch the
  // proxy's address: it is the only one the site talks to.
  void set_proxy(std::optional<ProxyRoute> route) { uplink_settings_.proxy = std::move(route); }
  // The TUN link's DNS settings follow the intermediary's DNS_CONFIG
  // through `dns`, and are removed by stop(). Call before start(); without
  // it DNS_CONFIG is ignored.
  void set_dns(DnsLink* dns) { dns_ = dns; }
  // For status (same thread: the control socket runs on this loop).
  const DnsLink* dns() const { return dns_; }
  // Resolves the intermediary's address once (for roaming), then dials.
  void start();
  // Stops the uplinks and removes the kernel routes, assigned addresses,
  // proxy neighbours and DNS settings it installed.
  void stop();

  // SIGHUP: re-reads our certificate and key (same paths) and has every
  // worker move its uplinks to them, make before break (QueueWorker::renew).
  // The files are checked here first: when they do not load, nothing
  // changes and the error says why. Returns what it started.
  Expected<std::string, std::string> renew_certificate();
  // Renewals started and not yet finished by every worker.
  bool renewing() const { return renewals_pending_ > 0; }

  // Called once, when the first uplink has registered (systemd readiness).
  void on_first_registration(std::function<void()> fn) { on_first_registration_ = std::move(fn); }
  int exit_code() const { return exit_code_; }
  size_t ready_uplinks() const;
  // Every status row: totals over the workers, the control plane's
  // counters and the gauges.
  SiteCounterValues counters() const;
  // Per queue: which workers carried traffic (the data path's counters).
  std::vector<SiteCounterValues> queue_counters() const;
  size_t queue_count() const { return queues_.size(); }
  // Every uplink in pool order, as its worker last published it (100 ms).
  std::vector<Uplink::Status> uplink_status() const;
  const RouteTable& routes() const { return routes_; }
  // Addresses the intermediary assigned to this site (laptop mode) and that
  // are on the TUN device.
  const std::set<Prefix>& assigned_addresses() const { return assigned_; }
  // Times the local address towards the intermediary changed and every
  // uplink was redialled.
  uint64_t roams() const { return counters_.get(SiteCounter::Roams); }
  void write_status() const;

 private:
  // What the workers' uplinks heard (uplink = index in the pool).
  void handle_accepted(const Accept& accept);
  void handle_routes(unsigned uplink, const Routes& routes);
  void handle_refused(const Refuse& refuse);
  void handle_peer_gone(const PeerGone& gone);
  void handle_dns(const DnsConfig& dns);
  void handle_renewal_done(const RenewalDone& done);
  // site_engine_workers.cpp: the workers and the mailbox between us.
  void start_workers(unsigned uplinks, uint64_t seed);
  void stop_workers();
  void on_control_events();
  void publish_view();
  void served_changed(std::vector<Prefix> served);
  void sync_kernel_routes();
  void refresh_preferred_sources();
  // p is the OUT of an advertise 'IN as OUT' entry (the LAN does not number it).
  bool translated_outside(const Prefix& p) const;
  // site_engine_host.cpp: what learned routes must not cover (the
  // intermediary's addresses, the connected networks), and the log line per
  // refused prefix.
  void resolve_intermediary();
  void refresh_host_facts();
  void report_refusals(const std::vector<RouteTable::Refusal>& refused);
  void sync_proxy_neighbours(bool force);
  void apply_assigned(const std::vector<Prefix>& addresses);
  void withdraw_host_state();
  void watch_path();
  void on_host_changed();
  void check_path();
  // Follows the address the uplinks settled on (watched_address).
  void refresh_watched_address();
  void arm_status_timer();

  EventLoop& loop_;
  TlsContext& tls_;
  std::vector<Tun*> queues_;
  RouteInstaller& installer_;
  HostNetwork& host_;
  const SiteConfig& config_;
  Logger& log_;
  Uplink::Settings uplink_settings_;
  RouteTable routes_;
  std::vector<Prefix> configured_served_;  // --advertise and --tun-address: what is served before any assignment
  std::vector<Prefix> served_;             // configured_served_ plus assigned_
  SharedSnapshot<WorkerView> view_;
  std::unique_ptr<Mailbox<ControlEvent>> control_;
  std::vector<TlsContext> worker_tls_;
  std::vector<std::unique_ptr<QueueWorker>> workers_;
  uint64_t control_dropped_ = 0;
  std::set<Prefix> installed_;
  PreferredSources sources_;  // of the routes in installed_
  SiteId self_id_ = 0;
  std::set<Prefix> assigned_;
  std::map<IpAddr, Prefix> proxied_;  // last set handed to host_.sync_proxy_neighbours
  bool proxy_sync_failed_ = false;
  std::string proxy_error_;  // last error logged, so a persistent one is logged once
  std::vector<IpAddr> intermediary_ips_;  // every address its name resolved to at start
  std::optional<IpAddr> intermediary_ip_;  // the roaming check's destination (watched_address)
  HostFacts host_facts_;
  SiteCounterSet counters_;  // the control plane's own: roams, routes_refused
  PathWatch path_;
  EventLoop::TimerId roam_timer_ = 0;
  DnsLink* dns_ = nullptr;
  std::function<void()> on_first_registration_;
  bool registered_once_ = false;
  int exit_code_ = 0;
  EventLoop::TimerId status_timer_ = 0;
  size_t renewals_pending_ = 0;  // workers still moving uplinks to a new certificate
  bool renewal_failed_ = false;
};

}  // namespace dialout
