#include "router/route_table.hpp"

#include <algorithm>

namespace dialout {

RouteTable::RouteTable(std::vector<Static> statics, std::vector<Prefix> own)
    : statics_(std::move(statics)), own_(std::move(own)) {
  rebuild();
}

void RouteTable::apply(const Routes& snapshot) {
  pushed_ = snapshot;
  rebuild();
}

void RouteTable::clear_pushed() {
  pushed_.entries.clear();
  rebuild();
}

bool RouteTable::inside_own(const Prefix& p) const {
  // Strictly inside: the same prefix pushed back is not a laptop in our LAN.
  return std::any_of(own_.begin(), own_.end(), [&](const Prefix& o) { return o != p && o.contains(p); });
}

void RouteTable::rebuild() {
  table_.clear();
  local_prefixes_.clear();
  // Pushed routes first: an exact static prefix for the same destination then
  // fails to insert, and the intermediary's current view wins.
  for (const auto& e : pushed_.entries) {
    for (const auto& p : e.prefixes) {
      table_.insert(p, e.id);
      if (inside_own(p)) {
        local_prefixes_.insert(p);
      } else {
        sticky_prefixes_.insert(p);
      }
    }
  }
  for (const auto& [prefix, name] : statics_) {
    SiteId id = 0;
    for (const auto& e : pushed_.entries)
      if (e.name == name) id = e.id;
    table_.insert(prefix, id);
    sticky_prefixes_.insert(prefix);
  }
  tunnel_prefixes_ = sticky_prefixes_;
  tunnel_prefixes_.insert(local_prefixes_.begin(), local_prefixes_.end());
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
