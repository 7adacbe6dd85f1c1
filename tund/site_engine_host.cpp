// The site engine's side of the host network (HostNetwork): addresses the
// intermediary assigned (laptop mode), proxy ARP/NDP for laptops numbered
// inside this site's LAN, and roaming (redial when the path changes).
#include <netdb.h>
#include <sys/socket.h>

#include "tund/site_engine.hpp"

namespace dialout {
namespace {

// Collapses a burst of notifications (an address flapping, a link going
// down and up, a route being replaced) into one look at the path.
constexpr auto kRoamDebounce = std::chrono::milliseconds(100);

// The intermediary's address, for route_source(): numeric as given, else
// resolved once here at start (blocking, like the rest of startup). A name
// that resolves to another address later is dialled by the uplinks
// correctly; only the roaming check would look at a stale path.
std::optional<IpAddr> resolve_host(const std::string& host) {
  if (auto ip = IpAddr::parse(host)) return ip;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return std::nullopt;
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, &::freeaddrinfo);
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      return IpAddr::v4(std::span<const uint8_t, 4>(reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4));
    }
    if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      return IpAddr::v6(std::span<const uint8_t, 16>(sin6->sin6_addr.s6_addr, 16));
    }
  }
  return std::nullopt;
}

bool is_host(const Prefix& p) { return p.len == p.addr.max_prefix_len(); }

}  // namespace

void SiteEngine::watch_path() {
  if (host_->change_fd() < 0) return;
  intermediary_ip_ = resolve_host(config_.intermediary.host);
  if (!intermediary_ip_) {
    log_.warn("cannot resolve {}: roaming detection is off", config_.intermediary.host);
    return;
  }
  loop_.add(host_->change_fd(), EPOLLIN, [this](uint32_t) { on_host_changed(); });
  path_.observe(host_->route_source(*intermediary_ip_));
}

void SiteEngine::sync_proxy_neighbours(bool force) {
  std::map<IpAddr, Prefix> wanted;
  if (config_.proxy_arp) {
    for (const auto& p : routes_.local_prefixes()) {
      if (!is_host(p)) continue;  // a whole remote subnet inside ours: routed, not proxied
      for (const auto& lan : config_.advertise)
        if (lan.contains(p)) wanted.emplace(p.addr, lan);
    }
  }
  if (wanted == proxied_ && !(force && proxy_sync_failed_)) return;
  for (const auto& [addr, lan] : wanted)
    if (!proxied_.count(addr))
      log_.info("proxy ARP/NDP for {} on the LAN of {}", addr.to_string(), lan.to_string());
  for (const auto& [addr, lan] : proxied_)
    if (!wanted.count(addr)) log_.info("proxy ARP/NDP for {} withdrawn", addr.to_string());
  auto ok = host_->sync_proxy_neighbours(wanted);
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
    if (auto ok = host_->remove_tun_address(a); !ok) log_.warn("{}", ok.error());
    log_.info("address {} withdrawn by the intermediary", a.to_string());
  }
  std::set<Prefix> kept;
  for (const auto& a : next) {
    if (!assigned_.count(a)) {
      if (auto ok = host_->add_tun_address(a); !ok) {
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
    if (auto ok = host_->sync_proxy_neighbours({}); !ok) log_.warn("proxy ARP/NDP: {}", ok.error());
    proxied_.clear();
    proxy_sync_failed_ = false;
  }
  for (const auto& a : assigned_)
    if (auto ok = host_->remove_tun_address(a); !ok) log_.warn("{}", ok.error());
  assigned_.clear();
}

void SiteEngine::on_host_changed() {
  if (!host_->drain_changes() || roam_timer_ != 0) return;
  roam_timer_ = loop_.add_timer(kRoamDebounce, [this] {
    roam_timer_ = 0;
    check_path();
  });
}

void SiteEngine::check_path() {
  auto verdict = path_.observe(host_->route_source(*intermediary_ip_));
  switch (verdict.action) {
    case PathWatch::Action::None: return;
    case PathWatch::Action::Lost: log_.warn("{}; waiting for one", verdict.text); return;
    case PathWatch::Action::Reconnect: break;
  }
  ++roams_;
  log_.info("{}: reconnecting", verdict.text);
  for (auto& up : uplinks_) up->reconnect_now("the path to the intermediary changed");
  for (auto& w : workers_) w->reconnect_all();
}

}  // namespace dialout
