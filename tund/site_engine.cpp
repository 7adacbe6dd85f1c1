#include "tund/site_engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "netlib/status_file.hpp"

namespace dialout {
namespace {

// How often the status file is written and held routes are expired.
constexpr auto kStatusPeriod = std::chrono::seconds(1);

unsigned uplink_count(const SiteConfig& c, size_t queues) {
  unsigned n = c.connections != 0 ? c.connections : std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
  // Every queue worker needs at least one uplink of its own.
  return std::max(n, unsigned(queues));
}

std::vector<Prefix> served_prefixes(const SiteConfig& c) {
  std::vector<Prefix> served = c.advertise;
  for (const auto& a : c.tun_addresses)
    served.push_back(*Prefix::make(a.addr, a.addr.max_prefix_len()));  // the address itself
  return served;
}

std::vector<RouteTable::Static> statics_of(const SiteConfig& c) {
  std::vector<RouteTable::Static> out;
  for (const auto& r : c.static_routes) out.emplace_back(r.prefix, r.name);
  return out;
}

LearnedRouteSettings learned_settings(const SiteConfig& c) {
  LearnedRouteSettings s{c.max_learned_routes, c.learned_route_hold, c.allow_learned_routes, {}};
  for (const auto& t : c.translations) s.translated_lans.push_back(t.inside);
  return s;
}

}  // namespace

SiteEngine::SiteEngine(EventLoop& loop, TlsContext& tls, std::vector<Tun*> queues, RouteInstaller& routes,
                       HostNetwork& host, const SiteConfig& config, Logger& log)
    : loop_(loop),
      tls_(tls),
      queues_(std::move(queues)),
      installer_(routes),
      host_(host),
      config_(config),
      log_(log),
      routes_(statics_of(config), config.advertise, learned_settings(config)),
      configured_served_(served_prefixes(config)),
      served_(configured_served_) {
  if (queues_.empty()) throw std::invalid_argument("SiteEngine: no TUN queue");
  uplink_settings_.intermediary = config.intermediary;
  uplink_settings_.server_name = config.server_name;
  uplink_settings_.registration =
      Register{config.name, uint8_t(config.request_address ? kRegisterWantAddress : 0),
               config.proxy_role ? config.advertise : std::vector<Prefix>{}};
  uplink_settings_.keepalive = config.keepalive;
  uplink_settings_.dead_after = config.dead_after;
  uplink_settings_.reconnect_min = config.reconnect_min;
  uplink_settings_.reconnect_max = config.reconnect_max;
  uplink_settings_.restart_hint_max = config.restart_hint_max;
  uplink_settings_.restart_window_max = config.restart_window_max;
  uplink_settings_.refused_retry = config.refused_retry;
}

SiteEngine::~SiteEngine() { stop(); }

void SiteEngine::start() {
  resolve_intermediary();
  refresh_preferred_sources();  // before the first route goes in
  refresh_host_facts();
  sync_kernel_routes();  // static routes go in before any connection exists
  unsigned n = uplink_count(config_, queues_.size());
  uint64_t seed = uint64_t(loop_.now().time_since_epoch().count()) ^ (uint64_t(::getpid()) << 32);
  start_workers(n, seed);
  watch_path();
  arm_status_timer();
  log_.info("site '{}': {} connection(s) to {}", config_.name, n, config_.intermediary.to_string());
}

void SiteEngine::stop() {
  if (status_timer_ != 0) loop_.cancel_timer(std::exchange(status_timer_, 0));
  if (roam_timer_ != 0) loop_.cancel_timer(std::exchange(roam_timer_, 0));
  stop_workers();
  if (host_.change_fd() >= 0 && loop_.contains(host_.change_fd())) loop_.remove(host_.change_fd());
  withdraw_host_state();
  if (dns_ != nullptr) dns_->clear();
  for (const auto& p : installed_)
    if (auto ok = installer_.remove(p); !ok) log_.warn("{}", ok.error());
  installed_.clear();
}

size_t SiteEngine::ready_uplinks() const {
  size_t ready = 0;
  for (const auto& w : workers_) ready += w->stats().ready;
  return ready;
}

void SiteEngine::handle_accepted(const Accept& accept) {
  self_id_ = accept.id;
  if (config_.request_address) {
    if (accept.addresses.empty()) {
      log_.warn("the intermediary assigned no address although one was requested");
    } else {
      apply_assigned(accept.addresses);
    }
  }
  if (!registered_once_) {
    registered_once_ = true;
    if (on_first_registration_) on_first_registration_();
  }
}

void SiteEngine::handle_routes(unsigned uplink, const Routes& routes) {
  // Every uplink receives the same snapshot; one is enough to act on, but
  // any may be the only one alive, so each applies it (idempotent).
  Routes others;  // our own entry (a laptop's address) is not a route into the tunnel
  for (const auto& e : routes.entries)
    if (e.id != self_id_) others.entries.push_back(e);
  report_refusals(routes_.apply(others, loop_.now()));
  if (uplink == 0 || ready_uplinks() == 1) log_.info("routes: {} site(s) reachable", routes.entries.size());
  sync_kernel_routes();
  publish_view();
}

void SiteEngine::handle_refused(const Refuse& refuse) {
  // Only a session that gave up posts its refusal (QueueWorker::on_refused).
  log_.error("giving up: the intermediary refused '{}' ({}); fix the configuration or the policy", config_.name,
             refuse.text);
  exit_code_ = kExitRefused;
  for (auto& w : workers_) w->request_stop();
  loop_.stop();
}

void SiteEngine::handle_peer_gone(const PeerGone& gone) {
  // Every uplink hears it (and the next snapshot says it again): only the
  // first changes anything. Its prefixes leave the lookup at once, so the
  // router stops framing for a site the relay would drop anyway; they are
  // held like any withdrawn prefix (their kernel routes stay for the hold
  // time, so the traffic is dropped here, not leaked out of the default
  // route), except local ones (a laptop inside our LAN), whose route and
  // proxy entry only it needed.
  auto name = routes_.name_of(gone.id);
  if (!routes_.forget_site(gone.id, loop_.now())) return;
  log_.info("site '{}' gone: its routes are withdrawn", name.value_or(std::to_string(gone.id)));
  sync_kernel_routes();
  publish_view();
}

void SiteEngine::handle_dns(const DnsConfig& dns) {
  // Every uplink hears it after its ACCEPT: the first change applies, the
  // rest find it applied. Connections of one site get the same config
  // (one policy, one identity), so they never take turns.
  if (dns_ != nullptr) dns_->update(dns);
}

void SiteEngine::sync_kernel_routes() {
  // Proxy neighbours first: the LAN interface of a laptop's address is found
  // by a route lookup, which its host route into the TUN would answer.
  sync_proxy_neighbours(false);
  const auto& wanted = routes_.tunnel_prefixes();
  // Out first, so the kernel never holds more than the table's cap: local
  // prefixes (laptops inside our LAN) when they leave, learned ones when
  // their hold time is over or a newer one took their place, any whose
  // host facts changed.
  for (auto it = installed_.begin(); it != installed_.end();) {
    if (wanted.count(*it)) {
      ++it;
      continue;
    }
    if (auto ok = installer_.remove(*it); !ok) log_.warn("{}", ok.error());
    log_.info("route {} out of the tunnel", it->to_string());
    it = installed_.erase(it);
  }
  for (const auto& p : wanted) {
    if (installed_.count(p)) continue;
    if (auto ok = installer_.add(p, sources_.for_route(p)); !ok) {
      log_.error("{}", ok.error());
      continue;
    }
    installed_.insert(p);
    log_.info("route {} into the tunnel", p.to_string());
  }
}

void SiteEngine::arm_status_timer() {
  status_timer_ = loop_.add_timer(kStatusPeriod, [this] {
    if (routes_.expire(loop_.now())) sync_kernel_routes();
    sync_proxy_neighbours(true);  // retries a failed sync (forwarding switched on meanwhile)
    refresh_watched_address();
    write_status();
    arm_status_timer();
  });
}

void SiteEngine::write_status() const {
  if (config_.status_file.empty()) return;
  const auto rows = counter_rows(kSiteCounters, counters());
  std::vector<std::pair<std::string_view, std::string>> dns;
  if (dns_ != nullptr) dns = dns_status_lines(dns_->status());
  if (auto ok = StatusFile(config_.status_file).write(rows, dns); !ok) log_.warn("status file: {}", ok.error());
}

SiteCounterValues SiteEngine::counters() const {
  SiteCounterValues total{};
  for (const auto& w : workers_) {
    const auto s = w->stats().counters;
    for (size_t i = 0; i < total.size(); ++i) total[i] += s[i];
  }
  counters_.accumulate(total);
  auto set = [&](SiteCounter c, uint64_t v) { total[size_t(c)] = v; };
  set(SiteCounter::Registered, total[size_t(SiteCounter::Connected)] > 0 ? 1 : 0);
  set(SiteCounter::Addresses, assigned_.size());
  set(SiteCounter::ProxyNeighbours, host_.proxy_neighbour_count());
  set(SiteCounter::Routes, installed_.size());
  return total;
}

std::vector<SiteCounterValues> SiteEngine::queue_counters() const {
  std::vector<SiteCounterValues> out;
  for (const auto& w : workers_) out.push_back(w->stats().counters);
  return out;
}

}  // namespace dialout
