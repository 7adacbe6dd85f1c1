#include "router/route_table.hpp"

#include <algorithm>

#include <fmt/core.h>

namespace dialout {
namespace {

// Refused prefixes remembered (so each is reported once) beyond the cap:
// room for every prefix of 64 sites refused at once (64 prefixes each).
constexpr size_t kRefusalsRemembered = 4096;

}  // namespace

RouteTable::RouteTable(std::vector<Static> statics, std::vector<Prefix> own, LearnedRouteSettings settings)
    : statics_(std::move(statics)), own_(std::move(own)), settings_(std::move(settings)) {
  rebuild(TimePoint{});
}

std::vector<RouteTable::Refusal> RouteTable::apply(const Routes& snapshot, TimePoint now) {
  pushed_ = snapshot;
  return rebuild(now);
}

std::vector<RouteTable::Refusal> RouteTable::set_host(HostFacts facts, TimePoint now) {
  host_ = std::move(facts);
  return rebuild(now);
}

void RouteTable::clear_pushed(TimePoint now) {
  pushed_.entries.clear();
  rebuild(now);
}

bool RouteTable::forget_site(SiteId id, TimePoint now) {
  auto& e = pushed_.entries;
  auto gone = std::remove_if(e.begin(), e.end(), [&](const RouteEntry& r) { return r.id == id; });
  if (gone == e.end()) return false;
  e.erase(gone, e.end());
  rebuild(now);  // refusals of its prefixes were reported when they were pushed
  return true;
}

bool RouteTable::expire(TimePoint now) {
  if (!drop_expired(now)) return false;
  collect_tunnel_prefixes();
  return true;
}

bool RouteTable::inside_own(const Prefix& p) const {
  // Strictly inside: the same prefix pushed back is not a laptop in our LAN.
  return std::any_of(own_.begin(), own_.end(), [&](const Prefix& o) { return o != p && o.contains(p); });
}

std::optional<std::string> RouteTable::refusal_reason(const Prefix& p) const {
  // Never allowed: the uplinks' own datagrams would go into the tunnel.
  for (const auto& ip : host_.intermediary)
    if (p.contains(ip)) return fmt::format("it contains the intermediary's address {}", ip.to_string());
  auto allowed = [&](const Prefix& a) { return a.contains(p); };
  if (std::any_of(settings_.allowed.begin(), settings_.allowed.end(), allowed)) return std::nullopt;
  if (p.len == 0) return std::string("it is a default route (allow-learned-route can accept it)");
  // Equal or wider: a route into the tunnel that would take our own LAN's
  // traffic (IPv6 connected routes have metric 256, ours 50).
  for (const auto& o : own_)
    if (p.contains(o))
      return fmt::format("it covers this site's advertised prefix {} (allow-learned-route can accept it)", o.to_string());
  for (const auto& lan : settings_.translated_lans)
    if (lan.contains(p) || p.contains(lan))
      return fmt::format("it overlaps this site's translated LAN range {} (allow-learned-route can accept it)",
                         lan.to_string());
  if (inside_own(p)) return std::nullopt;  // a laptop numbered inside our LAN: proxied, see local_prefixes()
  for (const auto& c : host_.connected)
    if (c.contains(p) || p.contains(c))
      return fmt::format("it overlaps the connected network {} (allow-learned-route can accept it)", c.to_string());
  return std::nullopt;
}

void RouteTable::refuse(const Prefix& p, const std::string& site, std::string reason, TimePoint now,
                        std::vector<Refusal>& fresh) {
  learned_.erase(p);
  current_.erase(p);
  refused_now_.insert(p);
  const bool inserted = refused_.insert_or_assign(p, now).second;
  if (!inserted) return;
  fresh.push_back(Refusal{p, site, std::move(reason)});
  // Bounded: the oldest reports are forgotten first (a prefix forgotten and
  // pushed again is reported again).
  while (refused_.size() > settings_.max_learned + kRefusalsRemembered) {
    auto oldest = refused_.end();
    for (auto r = refused_.begin(); r != refused_.end(); ++r)
      if (r->first != p && (oldest == refused_.end() || r->second < oldest->second)) oldest = r;
    if (oldest == refused_.end()) break;
    refused_now_.erase(oldest->first);
    refused_.erase(oldest);
  }
}

void RouteTable::accept(const Prefix& p, bool local, TimePoint now) {
  refused_.erase(p);
  if (local) {
    local_prefixes_.insert(p);
  } else {
    learned_[p] = now;
    current_.insert(p);
  }
}

bool RouteTable::evict_oldest_held() {
  auto oldest = learned_.end();
  for (auto it = learned_.begin(); it != learned_.end(); ++it)
    if (!current_.count(it->first) && (oldest == learned_.end() || it->second < oldest->second)) oldest = it;
  if (oldest == learned_.end()) return false;
  learned_.erase(oldest);
  return true;
}

bool RouteTable::drop_expired(TimePoint now) {
  bool changed = false;
  auto expired = [&](TimePoint last) { return now - last >= settings_.hold; };
  for (auto it = learned_.begin(); it != learned_.end();) {
    if (!current_.count(it->first) && expired(it->second)) {
      it = learned_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (auto it = refused_.begin(); it != refused_.end();)
    it = !refused_now_.count(it->first) && expired(it->second) ? refused_.erase(it) : std::next(it);
  return changed;
}

std::vector<RouteTable::Refusal> RouteTable::rebuild(TimePoint now) {
  std::vector<Refusal> fresh;
  // Whatever the previous snapshot held was pushed until now: a withdrawn
  // prefix's hold time starts at its withdrawal.
  for (const auto& p : current_) learned_[p] = now;
  for (const auto& p : refused_now_)
    if (auto it = refused_.find(p); it != refused_.end()) it->second = now;
  const std::set<Prefix> was_local = std::move(local_prefixes_);
  local_prefixes_.clear();
  current_.clear();
  refused_now_.clear();
  table_.clear();
  // Prefixes already routed keep their place; new ones queue per site and
  // are then taken in turns, so one site pushing many cannot crowd out the
  // others' first ones.
  std::vector<std::vector<Prefix>> queued(pushed_.entries.size());
  for (size_t i = 0; i < pushed_.entries.size(); ++i) {
    const auto& e = pushed_.entries[i];
    for (const auto& p : e.prefixes) {
      if (auto why = refusal_reason(p)) {
        refuse(p, e.name, std::move(*why), now, fresh);
        continue;
      }
      const bool local = inside_own(p);
      if (local ? was_local.count(p) > 0 : learned_.count(p) > 0) {
        accept(p, local, now);
      } else {
        queued[i].push_back(p);
      }
    }
  }
  drop_expired(now);
  // Held prefixes the host facts now forbid go too (not reported: not pushed).
  for (auto it = learned_.begin(); it != learned_.end();)
    it = !current_.count(it->first) && refusal_reason(it->first) ? learned_.erase(it) : std::next(it);
  for (size_t round = 0;; ++round) {
    bool any = false;
    for (size_t i = 0; i < queued.size(); ++i) {
      if (round >= queued[i].size()) continue;
      any = true;
      const Prefix& p = queued[i][round];
      const bool local = inside_own(p);
      if (local ? local_prefixes_.count(p) > 0 : current_.count(p) > 0) continue;  // pushed twice
      if (learned_count() >= settings_.max_learned && !evict_oldest_held()) {
        refuse(p, pushed_.entries[i].name,
               fmt::format("the learned-route limit (max-learned-routes {}) is reached", settings_.max_learned), now,
               fresh);
        continue;
      }
      accept(p, local, now);
    }
    if (!any) break;
  }
  // Pushed routes first: an exact static prefix for the same destination then
  // fails to insert, and the intermediary's current view wins.
  for (const auto& e : pushed_.entries)
    for (const auto& p : e.prefixes)
      if (current_.count(p) || local_prefixes_.count(p)) table_.insert(p, e.id);
  for (const auto& [prefix, name] : statics_) {
    SiteId id = 0;
    for (const auto& e : pushed_.entries)
      if (e.name == name) id = e.id;
    table_.insert(prefix, id);
  }
  collect_tunnel_prefixes();
  return fresh;
}

void RouteTable::collect_tunnel_prefixes() {
  tunnel_prefixes_ = local_prefixes_;
  for (const auto& [p, _] : learned_) tunnel_prefixes_.insert(p);
  for (const auto& [p, _] : statics_) tunnel_prefixes_.insert(p);
}

std::optional<SiteId> RouteTable::lookup(const IpAddr& dst) const {
  const SiteId* id = table_.lookup(dst);
  if (id == nullptr) return std::nullopt;
  return *id;
}

std::optional<std::string> RouteTable::name_of(SiteId id) const {
  for (const auto& e : pushed_.entries)
    if (e.id == id) return e.name;
  return std::nullopt;
}

}  // namespace dialout
