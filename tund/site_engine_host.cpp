// The site engine's side of the host network (HostNetwork): addresses the
// intermediary assigned (laptop mode), proxy ARP/NDP for laptops numbered
// inside this site's LAN, roaming (redial when the path changes), and the
// host facts learned routes are checked against.
#include <algorithm>

#include "tund/site_engine.hpp"
#include "tund/resolver.hpp"

namespace dialout {
namespace {

// Collapses a burst of notifications (an address flapping, a link going
// down and up, a route being replaced) into one look at the path.
constexpr auto kRoamDebounce = std::chrono::milliseconds(100);

// Refusals listed one per line per snapshot; beyond that one summary line,
// so a site pushing many bad prefixes costs a bounded number of lines.
constexpr size_t kRefusalsListed = 16;

// The intermediary's addresses: numeric as given, else resolved once here
// at start (blocking, like the rest of startup). A name that resolves to
// another address later is dialled by the uplinks correctly; only the
// roaming check and the learned-route check would look at stale addresses.
std::vector<IpAddr> resolve_host(const std::string& host) {
  if (auto ip = IpAddr::parse(host)) return {*ip};
  auto found = Resolver::system_lookup(host);
  return found ? std::move(*found) : std::vector<IpAddr>{};
}

bool is_host(const Prefix& p) { return p.len == p.addr.max_prefix_len(); }

}  // namespace

bool SiteEngine::translated_outside(const Prefix& p) const {
  return std::any_of(config_.translations.begin(), config_.translations.end(),
                     [&](const PrefixMapping& t) { return t.outside == p; });
}

void SiteEngine::resolve_intermediary() {
  // Through a proxy the site only ever talks to the proxy (and may have no
  // DNS for outside names at all).
  const std::string& host =
      uplink_settings_.proxy ? uplink_settings_.proxy->server.address.host : config_.intermediary.host;
  intermediary_ips_ = resolve_host(host);
  if (intermediary_ips_.empty()) {
    log_.warn("cannot resolve {}: roaming detection is off, and learned routes are not checked against its address",
              host);
    return;
  }
  intermediary_ip_ = intermediary_ips_.front();
}

void SiteEngine::refresh_host_facts() {
  HostFacts facts{intermediary_ips_, host_facts_.connected};
  if (auto connected = host_.connected_prefixes()) {
    facts.connected = std::move(*connected);
    std::sort(facts.connected.begin(), facts.connected.end());
    facts.connected.erase(std::unique(facts.connected.begin(), facts.connected.end()), facts.connected.end());
  } else {
    log_.warn("connected networks: {} (learned routes are checked against the last known ones)", connected.error());
  }
  if (facts == host_facts_) return;
  host_facts_ = facts;
  report_refusals(routes_.set_host(std::move(facts), loop_.now()));
  sync_kernel_routes();
  publish_view();
}

void SiteEngine::refresh_preferred_sources() {
  // The host's source towards each advertised prefix: its own address on
  // that LAN, when it has one there.
  // A translated LAN (advertise 'IN as OUT') is asked for by IN, where the
  // host really has its address; that address is fine as a source because
  // the data path translates it to OUT.
  std::vector<IpAddr> lan;
  std::vector<Prefix> usable = config_.advertise;
  for (const auto& t : config_.translations) usable.push_back(t.inside);
  for (const auto& p : usable)
    if (!translated_outside(p))
      if (auto source = host_.route_source(p.addr)) lan.push_back(*source);
  auto next = choose_preferred_sources(usable, config_.tun_addresses, lan);
  if (next == sources_) return;
  sources_ = next;
  auto text = [](const std::optional<IpAddr>& a) { return a ? a->to_string() : std::string("none"); };
  log_.info("routes into the tunnel: preferred source {} (IPv4), {} (IPv6)", text(sources_.v4), text(sources_.v6));
  for (const auto& p : installed_)  // replaced in place
    if (auto ok = installer_.add(p, sources_.for_route(p)); !ok) log_.warn("{}", ok.error());
}

void SiteEngine::report_refusals(const std::vector<RouteTable::Refusal>& refused) {
  counters_.add(SiteCounter::RoutesRefused, refused.size());
  for (size_t i = 0; i < refused.size() && i < kRefusalsListed; ++i) {
    const auto& r = refused[i];
    log_.warn("route {} from '{}' refused: {}", r.prefix.to_string(), r.site, r.reason);
  }
  if (refused.size() > kRefusalsListed)
    log_.warn("{} more learned prefixes refused (not listed)", refused.size() - kRefusalsListed);
}

void SiteEngine::watch_path() {
  if (host_.change_fd() < 0) return;
  loop_.add(host_.change_fd(), EPOLLIN, [this](uint32_t) { on_host_changed(); });
  if (intermediary_ip_) path_.observe(host_.route_source(*intermediary_ip_));
}

void SiteEngine::sync_proxy_neighbours(bool force) {
  std::map<IpAddr, Prefix> wanted;
  if (config_.proxy_arp) {
    for (const auto& p : routes_.local_prefixes()) {
      if (!is_host(p)) continue;  // a whole remote subnet inside ours: routed, not proxied
      // Not in a translated OUT prefix: the LAN does not number it (a
      // laptop there is routed to, the LAN being behind this gateway).
      for (const auto& lan : config_.advertise)
        if (lan.contains(p) && !translated_outside(lan)) wanted.emplace(p.addr, lan);
    }
  }
  if (wanted == proxied_ && !(force && proxy_sync_failed_)) return;
  for (const auto& [addr, lan] : wanted)
    if (!proxied_.count(addr))
      log_.info("proxy ARP/NDP for {} on the LAN of {}", addr.to_string(), lan.to_string());
  for (const auto& [addr, lan] : proxied_)
    if (!wanted.count(addr)) log_.info("proxy ARP/NDP for {} withdrawn", addr.to_string());
  auto ok = host_.sync_proxy_neighbours(wanted);
  proxied_ = std::move(wanted);
  proxy_sync_failed_ = !ok;
  if (ok) {
    proxy_error_.clear();
  } else if (ok.error() != proxy_error_) {
    proxy_error_ = ok.error();
    log_.error("proxy ARP/NDP: {}", proxy_error_);
  }
}

void SiteEngine::apply_assigned(const std::vector<Prefix>& addresses) {
  std::set<Prefix> next;
  for (const auto& a : addresses) {
    if (is_host(a)) {
      next.insert(a);
    } else {
      log_.warn("ignoring assigned address {}: not a single address", a.to_string());
    }
  }
  if (next == assigned_) return;
  for (const auto& a : assigned_) {
    if (next.count(a)) continue;
    if (auto ok = host_.remove_tun_address(a); !ok) log_.warn("{}", ok.error());
    log_.info("address {} withdrawn by the intermediary", a.to_string());
  }
  std::set<Prefix> kept;
  for (const auto& a : next) {
    if (!assigned_.count(a)) {
      if (auto ok = host_.add_tun_address(a); !ok) {
        log_.error("{}", ok.error());
        continue;
      }
      log_.info("address {} assigned by the intermediary", a.to_string());
    }
    kept.insert(a);
  }
  assigned_ = std::move(kept);
  auto served = configured_served_;
  served.insert(served.end(), assigned_.begin(), assigned_.end());
  served_changed(std::move(served));
}

void SiteEngine::withdraw_host_state() {
  if (!proxied_.empty() || proxy_sync_failed_) {
    if (auto ok = host_.sync_proxy_neighbours({}); !ok) log_.warn("proxy ARP/NDP: {}", ok.error());
    proxied_.clear();
    proxy_sync_failed_ = false;
  }
  for (const auto& a : assigned_)
    if (auto ok = host_.remove_tun_address(a); !ok) log_.warn("{}", ok.error());
  assigned_.clear();
}

void SiteEngine::on_host_changed() {
  if (!host_.drain_changes() || roam_timer_ != 0) return;
  roam_timer_ = loop_.add_timer(kRoamDebounce, [this] {
    roam_timer_ = 0;
    refresh_preferred_sources();
    refresh_host_facts();  // an address came or went: the connected networks may have changed
    if (intermediary_ip_) check_path();
  });
}

void SiteEngine::refresh_watched_address() {
  if (intermediary_ips_.size() < 2) return;  // nothing to choose from
  std::vector<std::string> ready;
  for (const auto& u : uplink_status())
    if (u.state == "ready") ready.push_back(u.remote);
  auto want = watched_address(ready, intermediary_ips_);
  if (!want || want == intermediary_ip_) return;
  log_.info("roaming check: watching the route to {}, the address the uplinks use", want->to_string());
  intermediary_ip_ = want;
  path_ = PathWatch{};
  if (host_.change_fd() >= 0) path_.observe(host_.route_source(*intermediary_ip_));  // the new baseline
}

void SiteEngine::check_path() {
  auto verdict = path_.observe(host_.route_source(*intermediary_ip_));
  switch (verdict.action) {
    case PathWatch::Action::None: return;
    case PathWatch::Action::Lost: log_.warn("{}; waiting for one", verdict.text); return;
    case PathWatch::Action::Reconnect: break;
  }
  counters_.add(SiteCounter::Roams);
  log_.info("{}: reconnecting", verdict.text);
  for (auto& w : workers_) w->reconnect_all();
}

}  // namespace dialout
