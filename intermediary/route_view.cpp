#include "intermediary/route_view.hpp"

#include <unordered_set>

namespace dialout {

namespace {

// Where one frame's share of entries and removed ids ends.
struct Cut {
  size_t entries_end;
  size_t removed_end;
};

std::vector<Cut> plan(std::span<const RouteEntry> entries, std::span<const SiteId> removed) {
  std::vector<Cut> cuts;
  size_t used = kRouteUpdateFixedSize;
  size_t e = 0, r = 0;
  bool empty_frame = true;
  auto close = [&] {
    cuts.push_back({e, r});
    used = kRouteUpdateFixedSize;
    empty_frame = true;
  };
  while (e < entries.size()) {
    size_t n = encoded_size(entries[e]);
    if (!empty_frame && used + n > kMaxControlPayload) close();
    used += n;
    empty_frame = false;
    ++e;
  }
  while (r < removed.size()) {
    if (!empty_frame && used + 4 > kMaxControlPayload) close();
    used += 4;
    empty_frame = false;
    ++r;
  }
  if (!empty_frame || cuts.empty()) close();
  return cuts;
}

}  // namespace

Expected<void, WireError> encode_split(uint32_t seq, RouteUpdateKind kind, std::span<const RouteEntry> entries,
                                       std::span<const SiteId> removed, std::vector<uint8_t>& out) {
  auto cuts = plan(entries, removed);
  if (cuts.size() > kMaxUpdateParts) return unexpected(WireError::TooManyEntries);
  const size_t start = out.size();
  size_t e = 0, r = 0;
  RouteUpdate u;
  u.seq = seq;
  u.kind = kind;
  u.parts = static_cast<uint16_t>(cuts.size());
  for (size_t i = 0; i < cuts.size(); ++i) {
    u.part = static_cast<uint16_t>(i);
    u.entries.assign(entries.begin() + static_cast<ptrdiff_t>(e), entries.begin() + static_cast<ptrdiff_t>(cuts[i].entries_end));
    u.removed.assign(removed.begin() + static_cast<ptrdiff_t>(r), removed.begin() + static_cast<ptrdiff_t>(cuts[i].removed_end));
    e = cuts[i].entries_end;
    r = cuts[i].removed_end;
    if (auto ok = encode(u, out); !ok) {
      out.resize(start);
      return ok;
    }
  }
  return {};
}

Expected<void, WireError> RouteView::snapshot(std::span<const RouteEntry> entries, std::vector<uint8_t>& out) {
  if (auto ok = encode_split(seq_ + 1, RouteUpdateKind::Snapshot, entries, {}, out); !ok) return ok;
  ++seq_;
  view_.clear();
  for (const auto& e : entries) view_.insert_or_assign(e.id, e);
  dirty_.clear();
  return {};
}

bool RouteView::update(const RouteEntry& entry, bool visible) {
  if (!visible) return remove(entry.id);
  auto it = view_.find(entry.id);
  if (it != view_.end() && it->second.name == entry.name && it->second.prefixes == entry.prefixes) return false;
  view_.insert_or_assign(entry.id, entry);
  dirty_.insert(entry.id);
  return true;
}

bool RouteView::remove(SiteId id) {
  if (view_.erase(id) == 0) return false;
  dirty_.insert(id);
  return true;
}

void RouteView::reconcile(std::span<const RouteEntry> visible) {
  std::unordered_set<SiteId> seen;
  seen.reserve(visible.size());
  for (const auto& e : visible) {
    seen.insert(e.id);
    update(e, true);
  }
  std::vector<SiteId> gone;
  for (const auto& [id, e] : view_) {
    if (!seen.contains(id)) gone.push_back(id);
  }
  for (SiteId id : gone) remove(id);
}

Expected<void, WireError> RouteView::flush(std::vector<uint8_t>& out) {
  if (dirty_.empty()) return {};
  std::vector<RouteEntry> adds;
  std::vector<SiteId> removed;
  for (SiteId id : dirty_) {
    if (auto it = view_.find(id); it != view_.end()) {
      adds.push_back(it->second);
    } else {
      removed.push_back(id);
    }
  }
  if (auto ok = encode_split(seq_ + 1, RouteUpdateKind::Delta, adds, removed, out); !ok) return ok;
  ++seq_;
  dirty_.clear();
  return {};
}

}  // namespace dialout
