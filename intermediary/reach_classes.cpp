#include "intermediary/reach_classes.hpp"

namespace dialout {

ReachClasses::Class& ReachClasses::of(const Policy::SectionList& key) {
  auto [it, fresh] = classes_.try_emplace(key, nullptr);
  if (!fresh) return *it->second;
  it->second = std::make_unique<Class>();
  Class& c = *it->second;
  c.sections = key;
  c.reaches_now.resize(changes_.size());
  c.concerned.resize(changes_.size());
  for (size_t i = 0; i < changes_.size(); ++i) {
    const SiteChange& ch = changes_[i];
    bool now = ch.now && policy_.may_reach(key, ch.now->name);
    bool same_name = ch.now && ch.old_name == ch.now->name;
    bool before = !ch.old_name.empty() && (same_name ? now : policy_.may_reach(key, ch.old_name));
    c.reaches_now[i] = now;
    c.concerned[i] = now || before;
    c.concerned_by_any = c.concerned_by_any || now || before;
  }
  return c;
}

const std::vector<RouteEntry>& ReachClasses::visible(Class& c) {
  if (!c.visible) {
    c.visible.emplace();
    registry_.for_each_site([&](const Site& site) {
      if (policy_.may_reach(c.sections, site.name))
        c.visible->push_back(RouteEntry{site.id, site.name, site.prefixes});
    });
  }
  return *c.visible;
}

}  // namespace dialout
