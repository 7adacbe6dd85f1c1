#include "tund/route_sync.hpp"

namespace dialout {

RouteSync::Outcome RouteSync::gap() {
  building_.reset();
  if (awaiting_resync_) return Outcome::Ignored;
  awaiting_resync_ = true;
  ++gaps_;
  return Outcome::Resync;
}

RouteSync::Outcome RouteSync::apply(RouteUpdate u) {
  const bool snapshot = u.kind == RouteUpdateKind::Snapshot;
  if (u.part == 0) {
    if (snapshot) {
      // A snapshot supersedes whatever was being collected or awaited.
      building_.reset();
      awaiting_resync_ = false;
    } else if (awaiting_resync_) {
      return Outcome::Ignored;
    } else if (building_ || !have_snapshot_ || u.seq != seq_ + 1) {
      return gap();
    }
    next_part_ = 0;
    building_ = RouteUpdate{u.seq, u.kind, 0, u.parts, {}, {}};
  } else if (!building_ || building_->seq != u.seq || building_->kind != u.kind || building_->parts != u.parts ||
             u.part != next_part_) {
    if (awaiting_resync_) return Outcome::Ignored;
    return gap();
  }
  return take(u);
}

RouteSync::Outcome RouteSync::take(RouteUpdate& u) {
  auto& b = *building_;
  if (table_.size() + b.entries.size() + b.removed.size() + u.entries.size() + u.removed.size() > kMaxEntries) {
    building_.reset();
    return Outcome::Error;
  }
  for (auto& e : u.entries) b.entries.push_back(std::move(e));
  b.removed.insert(b.removed.end(), u.removed.begin(), u.removed.end());
  ++next_part_;
  if (next_part_ < b.parts) return Outcome::Pending;
  install();
  return Outcome::Installed;
}

void RouteSync::install() {
  auto& b = *building_;
  if (b.kind == RouteUpdateKind::Snapshot) table_.clear();
  for (SiteId id : b.removed) table_.erase(id);  // an id never installed is simply absent
  for (auto& e : b.entries) {
    SiteId id = e.id;
    table_.insert_or_assign(id, std::move(e));
  }
  seq_ = b.seq;
  have_snapshot_ = true;
  building_.reset();
}

}  // namespace dialout
