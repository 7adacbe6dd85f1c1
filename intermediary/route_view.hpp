// What one session was last told about routes (issue 17), and the
// ROUTE_UPDATE frames that bring it up to date. Pure: the relay feeds it
// registry changes with the policy's verdict for this session and sends the
// bytes it returns.
//
// Why per-session state instead of recomputing snapshots: with thousands of
// laptops, every registration used to send every session a full snapshot
// built by walking every site (work in the square of the fleet). Now a change
// to one site costs one may_reach per session, and frames go only to the
// sessions whose view it changes — one entry to HQ when a laptop joins,
// nothing to the other laptops.
//
// Sequence: every update (snapshot or delta) takes the next seq (wrapping);
// the site expects each delta at its seq + 1 and asks for a snapshot
// (ROUTE_RESYNC) on any gap. Large updates are split into at most
// kMaxUpdateParts frames of at most kMaxControlPayload bytes each.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/wire.hpp"

namespace dialout {

class RouteView {
 public:
  // Appends a snapshot of `entries` (everything the session may reach now)
  // and makes it the view; queued changes are dropped (the snapshot has
  // them). On error nothing is appended and the view is unchanged.
  Expected<void, WireError> snapshot(std::span<const RouteEntry> entries, std::vector<uint8_t>& out);

  // Site `entry.id` was registered or changed; `visible`: this session may
  // reach it now. Returns whether the view changed (a change is queued).
  bool update(const RouteEntry& entry, bool visible);
  // Site `id` is gone. Returns whether it was in the view.
  bool remove(SiteId id);

  // For a caller that knows only the whole visible set (the relay's
  // coalesced push today): queues what differs from the view, entries
  // absent from `visible` as removals. Costs O(view + visible), so the
  // per-change cost goes down only once the caller uses update/remove.
  void reconcile(std::span<const RouteEntry> visible);

  // Appends one delta carrying every queued change (split into parts as
  // needed); appends nothing when none is queued.
  Expected<void, WireError> flush(std::vector<uint8_t>& out);

  bool has_pending() const { return !dirty_.empty(); }
  size_t pending() const { return dirty_.size(); }
  uint32_t seq() const { return seq_; }
  size_t size() const { return view_.size(); }

 private:
  // The view as it will be once the queued changes are sent.
  std::unordered_map<SiteId, RouteEntry> view_;
  // Ids changed since the last frame sent: present in view_ → add/replace,
  // absent → remove (a site told to remove an id it never had ignores it).
  std::set<SiteId> dirty_;
  uint32_t seq_ = 0;
};

// Splits one update into frames: entries first, then removed ids, each frame
// as full as kMaxControlPayload allows, all with `seq` and `kind`. Appends
// nothing and fails with TooManyEntries beyond kMaxUpdateParts frames.
Expected<void, WireError> encode_split(uint32_t seq, RouteUpdateKind kind, std::span<const RouteEntry> entries,
                                       std::span<const SiteId> removed, std::vector<uint8_t>& out);

}  // namespace dialout
