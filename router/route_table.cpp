#include "router/route_table.hpp"

namespace dialout {

RouteTable::RouteTable(std::vector<Static> statics) : statics_(std::move(statics)) { rebuild(); }

void RouteTable::apply(const Routes& snapshot) {
  pushed_ = snapshot;
  rebuild();
}

void RouteTable::clear_pushed() {
  pushed_.entries.clear();
  rebuild();
}

void RouteTable::rebuild() {
  table_.clear();
  // Pushed routes first: an exact static prefix for the same destination then
  // fails to insert, and the intermediary's current view wins.
  for (const auto& e : pushed_.entries) {
    for (const auto& p : e.prefixes) {
      table_.insert(p, e.id);
      tunnel_prefixes_.insert(p);
    }
  }
  for (const auto& [prefix, name] : statics_) {
    SiteId id = 0;
    for (const auto& e : pushed_.entries)
      if (e.name == name) id = e.id;
    table_.insert(prefix, id);
    tunnel_prefixes_.insert(prefix);
  }
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
