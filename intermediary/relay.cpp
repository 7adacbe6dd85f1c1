#include "intermediary/relay.hpp"

#include <fmt/ranges.h>

#include <algorithm>

#include "intermediary/forwarder.hpp"
#include "intermediary/peer_identity.hpp"
#include "intermediary/reach_classes.hpp"
#include "netlib/socket.hpp"
#include "netlib/status_file.hpp"

namespace dialout {
Relay::Relay(EventLoop& loop, TlsContext& tls, Policy policy, const RelayConfig& config, Logger& log)
    : loop_(loop),
      tls_(tls),
      config_(config),
      log_(log),
      deferred_(log),
      policy_(std::make_shared<const Policy>(std::move(policy))),
      pending_(PendingLimitsConfig{.max_total = config.max_pending,
                                   .max_per_source = config.max_pending_per_source,
                                   .rate_per_source = double(config.handshake_rate_per_source),
                                   .burst_per_source = double(config.handshake_burst_per_source)}) {}

Session* Relay::owned(RelayWorker& w, SessionId id) {
  auto it = w.owned.find(id);
  return it == w.owned.end() || it->second->retired ? nullptr : it->second.get();
}

bool Relay::on_frame(RelayWorker& w, Session& s, const FrameView& f, TimePoint now) {
  w.scratch.clear();
  auto e = s.core.on_frame(f, now, w.scratch);
  return apply(w, s, std::move(e), &f, now);
}

bool Relay::apply(RelayWorker& w, Session& s, RelaySession::Event&& e, const FrameView* f, TimePoint now) {
  using Kind = RelaySession::Event::Kind;
  switch (e.kind) {
    case Kind::None:
    case Kind::HelloOk:
      if (w.scratch.empty()) return true;
      send(w, s, SendQueue::Lane::Urgent, w.scratch);
      return !close_if_stalled(w, s);  // e.g. pings from a peer that reads none of the pongs
    case Kind::RegisterRequest: return on_register(w, s, e.request, now);
    case Kind::Forward:
      on_data(w, s, *f, e.data, now);
      return true;
    case Kind::DropMalformed:
      w.counters.add(RelayCounter::DropMalformed);
      w.drop_log.warn("malformed", s.drop_log, now, "{}: dropped DATA: {}", s.peer, to_string(e.wire_error));
      return true;
    case Kind::Refused:
      if (e.reason == RefuseReason::OutOfOrder) w.counters.add(RelayCounter::DropMalformed);  // an unexpected or malformed frame
      close_refused(w, s, e);
      return false;
    case Kind::HandshakeTimeout:
      w.counters.add(RelayCounter::HandshakeFailed);  // stuck in TLS, or authenticated but never registered
      close_session(w, s, e.text);
      return false;
    case Kind::Dead: close_session(w, s, e.text); return false;
    case Kind::RouteResync: {
      Lock lk(mu_);
      if (auto it = directory_.find(s.id); it != directory_.end()) it->second.routes_sent = false;
      push_routes();
      return true;
    }
  }
  return true;
}

bool Relay::on_register(RelayWorker& w, Session& s, const Register& r, TimePoint now) {
  LocalWork local;
  {
    Lock lk(mu_);
    auto got = registrar_.admit(*policy_, RegistrationRequest{s.id, &s.who, s.peer_host, &r}, now);
    if (!got) {
      lk.unlock();
      w.counters.add(RelayCounter::RefusedRegister);
      refuse(w, s, got.error().reason, std::move(got.error().text));
      return false;
    }
    pending_.done(s.id);  // registered: never counted or evicted again
    SessionEntry& entry = directory_[s.id];
    entry.site = got->site;
    entry.capabilities = s.core.capabilities();
    // Decided under the lock, with the policy a reload compares against.
    entry.dns = policy_->dns_for(s.who);
    DnsConfig dns = entry.dns;
    touched_sites_.push_back(got->site);
    std::string why = fmt::format("replaced: '{}' roamed to {}", s.who.name, s.peer_host);
    for (SessionId id : got->retire)
      post_control(w, id, InboxKind::Close, std::span(reinterpret_cast<const uint8_t*>(why.data()), why.size()), local);
    push_routes();
    lk.unlock();
    w.scratch.clear();
    s.core.accept(got->site, got->assigned, w.scratch, dns);
    dlog().info("{}: '{}' registered '{}' (site {}, {} prefixes)", s.peer, s.who.name, r.name, got->site,
                r.prefixes.size());
  }
  send(w, s, SendQueue::Lane::Urgent, w.scratch);
  apply_local(w, local);
  return true;
}

void Relay::on_data(RelayWorker& w, Session& s, const FrameView& f, const DataView& d, TimePoint now) {
  refresh_view(w);
  if (forward(w, s, f, d, now, false)) return;
  // The view may lag a registration or a site's new connections (route
  // pushes, which publish it, are coalesced): look again in a fresh one
  // before dropping. At most once a millisecond per worker, so a flood of
  // datagrams nobody serves cannot keep it taking the control plane's lock.
  if (now - w.view_forced_at >= std::chrono::milliseconds(1)) {
    w.view_forced_at = now;
    refresh_view(w, true);
  }
  (void)forward(w, s, f, d, now, true);
}

bool Relay::forward(RelayWorker& w, Session& s, const FrameView& f, const DataView& d, TimePoint now, bool last_try) {
  const ForwardingView& view = *w.view;
  const Site* sender = view.registry.site(s.core.site());
  if (sender == nullptr) {  // registered after the view was built
    if (!last_try) return false;
    w.counters.add(RelayCounter::DropNoRoute);
    return true;
  }
  auto fwd = decide_forward(view.registry, *view.policy, *sender, s.who, d);
  if (!fwd) {
    if (fwd.error() == DropReason::NoRoute && !last_try) return false;
    switch (fwd.error()) {
      case DropReason::Malformed:
      case DropReason::SourceRouted:
      case DropReason::BadOffloadHeader: w.counters.add(RelayCounter::DropMalformed); break;
      case DropReason::SpoofedSource: w.counters.add(RelayCounter::DropSpoofedSource); break;
      case DropReason::NoRoute: w.counters.add(RelayCounter::DropNoRoute); break;
      case DropReason::Policy:
      case DropReason::Denied: w.counters.add(RelayCounter::DropPolicy); break;
    }
    w.drop_log.warn(to_string(fwd.error()), s.drop_log, now, "{} ('{}', user '{}'): dropped datagram: {}", s.peer,
                    sender->name, s.who.name, to_string(fwd.error()));
    return true;
  }
  const Site* target = view.registry.site(fwd->dst);
  if (target == nullptr || target->sessions.empty()) {
    if (!last_try) return false;
    w.counters.add(RelayCounter::DropNoRoute);
    return true;
  }
  std::span<const uint8_t> whole(f.payload.data() - kFrameHeaderSize, f.size());
  // The flow's session first; when it closed since the view was built (a
  // site moving to a renewed certificate, a roam) the site's next one: a
  // site that keeps another connection loses nothing to the view's lag.
  const size_t n = target->sessions.size();
  for (size_t k = 0; k < n; ++k) {
    SessionId out_id = target->sessions[(fwd->flow_hash + k) % n];
    const SessionRoute* out = view.session(out_id);
    if (out == nullptr) continue;
    if (!d.vnet.empty() && !(out->capabilities & kCapVnetHeader)) {
      w.counters.add(RelayCounter::DropMalformed);
      w.drop_log.warn("no-offload", s.drop_log, now,
                      "{}: dropped offloaded datagram: '{}' does not accept offload headers", s.peer, target->name);
      return true;
    }
    if (out->owner == w.index) {
      Session* local = owned(w, out_id);
      if (local == nullptr) continue;  // closed since the view was built
      queue_data(w, *local, sender->id, whole, d.packet.size());
      return true;
    }
    // Another worker's session: only its owner touches it.
    RelayWorker& to = *workers_[out->owner];
    auto posted = to.inbox.post(InboxFrame{out_id, sender->id, target->id, d.packet.size()}, whole);
    if (!posted.ok) w.counters.add(RelayCounter::DropInboxFull);
    if (posted.wake) wake(to);
    return true;
  }
  if (!last_try) return false;
  w.counters.add(RelayCounter::DropSessionGone);
  return true;
}

Session* Relay::another_local_session(RelayWorker& w, SiteId site) {
  // Only this worker's own sessions: posting on would let a frame bounce.
  refresh_view(w);
  const Site* target = w.view ? w.view->registry.site(site) : nullptr;
  if (target == nullptr) return nullptr;
  for (SessionId id : target->sessions)
    if (Session* s = owned(w, id)) return s;
  return nullptr;
}

void Relay::queue_data(RelayWorker& w, Session& out, SiteId src, std::span<const uint8_t> frame, size_t ip_bytes) {
  auto lane = lane_for_datagram(ip_bytes);
  // Datagrams get half the urgent lane; the other half is the control
  // frames', so a control overflow means the peer stopped reading, never
  // that others flood it with small datagrams.
  if (lane == SendQueue::Lane::Urgent &&
      out.channel.queue().lane_bytes(lane) + frame.size() > urgent_data_bytes(out)) {
    w.counters.add(RelayCounter::DropQueueFull);
    out.stats->queue_drops.add();
    return;
  }
  auto room = out.channel.queue().reserve(lane, frame.size());
  std::copy(frame.begin(), frame.end(), room.begin());
  stamp_data_source(room.first(frame.size()), src);
  auto pushed = out.channel.queue().commit(lane, frame.size());
  if (!pushed.ok) {
    w.counters.add(RelayCounter::DropQueueFull);
    out.stats->queue_drops.add();
    return;
  }
  w.counters.add(RelayCounter::DropQueueFull, pushed.dropped);
  out.stats->queue_drops.add(pushed.dropped);
  out.stats->frames_out.add();
  w.counters.add(RelayCounter::FramesForwarded);
  w.counters.add(RelayCounter::BytesForwarded, ip_bytes);
  mark_dirty(w, out);
}

void Relay::drain_inbox(RelayWorker& w) {
  w.inbox.drain([&](const InboxFrame& m, std::span<const uint8_t> bytes) {
    if (m.kind != InboxKind::Data) {
      apply_control(w, m.to, m.kind, bytes);
      return;
    }
    if (Session* s = owned(w, m.to); s != nullptr || (s = another_local_session(w, m.dst)) != nullptr) {
      queue_data(w, *s, m.src, bytes, m.ip_bytes);
    } else {
      w.counters.add(RelayCounter::DropSessionGone);
    }
  });
  // Control frames may have overflowed a session that stopped reading.
  // Indexed: closing one may queue PEER_GONE for others (and grow the list).
  for (size_t i = 0, n = w.dirty.size(); i < n; ++i)
    if (Session* s = owned(w, w.dirty[i])) close_if_stalled(w, *s);
}

void Relay::apply_control(RelayWorker& w, SessionId to, InboxKind kind, std::span<const uint8_t> bytes) {
  Session* s = owned(w, to);
  if (s == nullptr) return;  // gone meanwhile: nothing left to tell it
  std::string text(bytes.begin(), bytes.end());
  switch (kind) {
    case InboxKind::Data: break;
    case InboxKind::Control:
      // Routes and PEER_GONE go to registered sessions only, RESTARTING to
      // authenticated ones: never into a TLS handshake.
      if (s->core.state() != RelaySession::State::Handshake) send(w, *s, SendQueue::Lane::Urgent, bytes);
      break;
    case InboxKind::Close: close_session(w, *s, text); break;
    case InboxKind::Evict:
      // Registered since the eviction was decided: registered sessions are never evicted.
      if (s->core.state() == RelaySession::State::Ready) break;
      w.counters.add(RelayCounter::PendingEvicted);
      close_session(w, *s, "evicted: " + text);
      break;
    case InboxKind::Withdraw:
      if (bytes.empty()) break;
      w.counters.add(RelayCounter::ClosedByReload);
      dlog().info("{} ('{}'): rights withdrawn by a policy reload", s->peer, s->who.name);
      refuse(w, *s, RefuseReason(bytes[0]), text.substr(1));
      break;
    case InboxKind::Kill:
      dlog().info("{} ('{}'): killed by the operator: {}", s->peer, s->who.name, text);
      if (s->core.state() == RelaySession::State::Handshake) {
        close_session(w, *s, "killed by the operator: " + text);  // no TLS yet to carry a REFUSE
      } else {
        // Through the refusal path: the REFUSE is flushed before the close,
        // the site logs the reason and reconnects.
        refuse(w, *s, RefuseReason::Closed, text);
      }
      break;
  }
}

void Relay::post_control(RelayWorker& self, SessionId to, InboxKind kind, std::span<const uint8_t> bytes,
                         LocalWork& local) {
  auto it = directory_.find(to);
  if (it == directory_.end()) return;
  if (it->second.owner == self.index && on_thread(self)) {
    local.push_back({to, kind, std::vector<uint8_t>(bytes.begin(), bytes.end())});
    return;
  }
  RelayWorker& w = *workers_[it->second.owner];
  auto posted = w.inbox.post(InboxFrame{to, 0, 0, 0, kind}, bytes);
  if (!posted.ok) {
    self.counters.add(RelayCounter::DropInboxFull);
    dlog().error("worker {} is stuck: its inbox has no room for a control frame for session {}", w.index, to);
  }
  if (posted.wake) wake(w);
}

void Relay::apply_local(RelayWorker& w, LocalWork& local) {
  for (auto& e : local) apply_control(w, e.to, e.kind, e.bytes);
  for (auto& e : local)
    if (Session* s = owned(w, e.to)) close_if_stalled(w, *s);
}

void Relay::send(RelayWorker& w, Session& s, SendQueue::Lane lane, std::span<const uint8_t> frame) {
  if (s.stalled) return;  // being closed: nothing more for it
  // Control frames never drop (they carry routes and departures): one that
  // does not fit means the peer has left at least half the urgent lane
  // unread. It closes at the next chance (on_frame, the inbox drain, or
  // its next flush), counted and logged once there.
  if (!s.channel.queue().push(lane, frame).ok) s.stalled = true;
  mark_dirty(w, s);
}

bool Relay::close_if_stalled(RelayWorker& w, Session& s) {
  if (!s.stalled || s.retired) return false;
  w.counters.add(RelayCounter::ClosedSlowReader);
  dlog().warn("{} ('{}'): control queue overflow with {} bytes unsent: the peer sends but does not read", s.peer,
              s.who.name, s.channel.queue().queued_bytes());
  close_session(w, s, "control queue overflow (slow reader)");
  return true;
}

void Relay::refuse(RelayWorker& w, Session& s, RefuseReason reason, std::string text) {
  w.scratch.clear();
  auto e = s.core.refuse(reason, std::move(text), w.scratch);
  close_refused(w, s, e);
}

void Relay::close_refused(RelayWorker& w, Session& s, const RelaySession::Event& e) {
  dlog().warn("{} ('{}'): refused: {}: {}", s.peer, s.who.name, to_string(e.reason), e.text);
  s.channel.queue().push(SendQueue::Lane::Urgent, w.scratch);
  s.flush_on_close = true;  // best effort: a fresh connection has room for one small frame
  close_session(w, s, "refused");
}

void Relay::close_session(RelayWorker& w, Session& s, const std::string& why) {
  if (s.retired) return;
  SessionId id = s.id;
  dlog().info("{} ('{}'): session closed: {}", s.peer, s.who.name, why);
  s.retired = true;
  w.gate.forget(id);
  auto it = w.owned.find(id);
  w.closing.push_back(std::move(it->second));
  w.owned.erase(it);
  LocalWork local;
  {
    Lock lk(mu_);
    if (s.counted && --sessions_per_identity_[s.who.name] == 0) sessions_per_identity_.erase(s.who.name);
    --w.sessions;
    directory_.erase(id);
    pending_.done(id);
    // A laptop's pool address stays reserved for a grace period: one that
    // comes back gets the same one, so its inner connections survive.
    // PEER_GONE goes out with the next route push (send_route_snapshots), to
    // the sessions that may reach the site: posting it here to every
    // session made N departures cost N×N (a restart's shutdown, a storm).
    if (auto gone = registrar_.remove_session(id, Session::Clock::now())) touched_sites_.push_back(*gone);
    // Shutting down: everyone is leaving, nobody needs to hear about it.
    if (!stopping_) push_routes();
  }
  apply_local(w, local);
}

void Relay::push_routes() {
  // Many registrations or departures in one loop pass (a restart, a burst
  // of connections) cost one push: the view and the snapshots are rebuilt
  // on the main loop once they settle (on_wake / arm_routes arm the timer there).
  view_due_ = true;
  if (routes_due_) return;
  routes_due_ = true;
  if (on_thread(*workers_[0])) {
    arm_routes();
  } else {
    wake(*workers_[0]);
  }
}

void Relay::publish_view() {
  auto view = std::make_shared<ForwardingView>();
  view->registry = registrar_.registry();
  view->policy = policy_;
  for (const auto& [id, entry] : directory_)
    if (entry.site != 0) view->sessions.emplace(id, SessionRoute{entry.owner, entry.capabilities});
  view_.publish(std::move(view));
  view_due_ = false;
}

void Relay::refresh_view(RelayWorker& w, bool force) {
  if (force) {
    Lock lk(mu_);
    if (view_due_) publish_view();
  }
  if (w.view != nullptr && view_.generation() == w.view_generation) return;
  std::tie(w.view, w.view_generation) = view_.get();
}

void Relay::send_route_snapshots(Lock& lk) {
  if (stopping_) return lk.unlock();
  if (view_due_) publish_view();
  // Which sites changed since the last push, from the ids the registry's
  // two writers noted; sessions then look only at the changes their class
  // may reach.
  std::sort(touched_sites_.begin(), touched_sites_.end());
  touched_sites_.erase(std::unique(touched_sites_.begin(), touched_sites_.end()), touched_sites_.end());
  std::vector<SiteChange> changes;
  for (SiteId sid : touched_sites_) {
    const Site* site = registrar_.registry().site(sid);
    auto it = pushed_sites_.find(sid);
    if (site != nullptr) {
      RouteEntry now{site->id, site->name, site->prefixes};
      if (it == pushed_sites_.end()) {
        changes.push_back(SiteChange{sid, now, {}});
        pushed_sites_.emplace(sid, std::move(now));
      } else if (it->second.name != now.name || it->second.prefixes != now.prefixes) {
        changes.push_back(SiteChange{sid, now, it->second.name});
        it->second = std::move(now);
      }
    } else if (it != pushed_sites_.end()) {
      changes.push_back(SiteChange{sid, std::nullopt, it->second.name});
      pushed_sites_.erase(it);
    }
  }
  touched_sites_.clear();
  const bool policy_changed = pushed_policy_ != policy_;
  pushed_policy_ = policy_;

  // Whole visible sets, only where needed (snapshots, older peers, a new
  // policy): one walk over the sites per class, then each session's own
  // site left out.
  ReachClasses classes(*policy_, registrar_.registry(), changes);
  auto class_of = [&](SessionEntry& entry) -> ReachClasses::Class& {
    if (entry.sections_from != policy_) {
      entry.sections = policy_->sections_of(entry.who);
      entry.sections_from = policy_;
    }
    return classes.of(entry.sections);
  };
  Routes visible;
  auto visible_for = [&](SessionEntry& entry) -> const Routes& {
    visible.entries.clear();
    for (const RouteEntry& e : classes.visible(class_of(entry)))
      if (e.id != entry.site) visible.entries.push_back(e);
    return visible;
  };
  std::unordered_map<SiteId, std::vector<uint8_t>> full;  // ROUTES for sessions without kCapRouteDeltas
  // PEER_GONE per departed site (same index as `changes`): it leaves the
  // site's lookup at once, before the route update says so again.
  std::vector<std::vector<uint8_t>> gone_frames(changes.size());
  bool any_gone = false;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (changes[i].now) continue;
    (void)encode(PeerGone{changes[i].id}, gone_frames[i]);
    any_gone = true;
  }
  std::vector<uint8_t> frames;
  LocalWork local;
  std::vector<std::string> too_big;
  RelayCounterSet& counters = workers_[0]->counters;  // pushes run on the main loop's thread
  for (auto& [id, entry] : directory_) {
    if (entry.site == 0) continue;
    if (any_gone) {
      const ReachClasses::Class& c = class_of(entry);
      for (size_t i = 0; i < changes.size() && c.concerned_by_any; ++i)
        if (!gone_frames[i].empty() && c.concerned[i])
          post_control(*workers_[0], id, InboxKind::Control, gone_frames[i], local);
    }
    if (entry.capabilities & kCapRouteDeltas) {
      // A snapshot first (and after a resync), then only what changed, split
      // over as many frames as it needs; nothing for an unchanged view.
      frames.clear();
      Expected<void, WireError> ok;
      if (!entry.routes_sent) {
        ok = entry.routes.snapshot(visible_for(entry).entries, frames);
        if (ok) counters.add(RelayCounter::RouteSnapshotsSent);
      } else {
        if (policy_changed) {
          entry.routes.reconcile(visible_for(entry).entries);
        } else if (ReachClasses::Class& c = class_of(entry); c.concerned_by_any) {
          for (size_t i = 0; i < changes.size(); ++i) {
            if (!c.concerned[i]) continue;  // in none of this class's views, before or now
            const SiteChange& ch = changes[i];
            if (!ch.now) {
              entry.routes.remove(ch.id);
            } else {
              entry.routes.update(*ch.now, ch.id != entry.site && c.reaches_now[i]);
            }
          }
        }
        size_t entries = entry.routes.pending();
        ok = entry.routes.flush(frames);
        if (ok && entries != 0) {
          counters.add(RelayCounter::RouteDeltasSent);
          counters.add(RelayCounter::RouteDeltaEntries, entries);
        }
      }
      if (!ok) {
        too_big.push_back(entry.who.name);
        continue;
      }
      entry.routes_sent = true;
      // One post per frame: each is a whole frame, and the inbox bounds entries.
      for (std::span<const uint8_t> rest(frames); !rest.empty();) {
        auto f = next_frame(rest);
        if (!f || !f->has_value()) break;  // our own encoding: cannot happen
        post_control(*workers_[0], id, InboxKind::Control, rest.first((*f)->size()), local);
        rest = rest.subspan((*f)->size());
      }
      continue;
    }
    auto [it, fresh_full] = full.try_emplace(entry.site);
    if (fresh_full && !encode(visible_for(entry), it->second)) {
      it->second.clear();
      too_big.push_back(entry.who.name);
    }
    if (!it->second.empty()) {
      post_control(*workers_[0], id, InboxKind::Control, it->second, local);
      counters.add(RelayCounter::RouteSnapshotsSent);
    }
  }
  lk.unlock();
  for (const auto& name : too_big)
    dlog().error("route table for '{}' does not fit (one ROUTES frame, or kMaxUpdateParts); not sent", name);
  apply_local(*workers_[0], local);
}

RelayCounterSet::Values Relay::counter_totals() const {
  RelayCounterSet::Values v{};
  for (const auto& w : workers_) w->counters.accumulate(v);
  return v;
}

uint64_t Relay::counter(RelayCounter c) const { return counter_totals()[size_t(c)]; }

size_t Relay::session_count() const {
  Lock lk(mu_);
  return directory_.size();
}

bool Relay::routes_settled() const {
  Lock lk(mu_);
  return !routes_due_ && !view_due_;
}

size_t Relay::site_count() const {
  Lock lk(mu_);
  return registrar_.registry().site_count();
}

size_t Relay::pool_leases() const {
  Lock lk(mu_);
  return registrar_.pool_leases();
}

std::vector<size_t> Relay::sessions_per_worker() const {
  Lock lk(mu_);
  std::vector<size_t> out;
  for (const auto& w : workers_) out.push_back(w->sessions);
  return out;
}

std::vector<unsigned> Relay::site_workers(std::string_view name) const {
  Lock lk(mu_);
  std::vector<unsigned> out;
  if (const Site* site = registrar_.registry().find(name)) {
    for (SessionId id : site->sessions)
      if (auto it = directory_.find(id); it != directory_.end()) out.push_back(it->second.owner);
  }
  return out;
}

void Relay::write_status() const {
  if (config_.status_file.empty()) return;
  std::vector<std::pair<std::string_view, uint64_t>> rows;
  {
    Lock lk(mu_);
    rows.emplace_back("sessions", directory_.size());
    rows.emplace_back("sites", registrar_.registry().site_count());
    for (auto& row : counter_rows(kRelayCounters, counter_totals())) rows.push_back(row);
    rows.emplace_back("assigned_addresses", registrar_.assigned_sites());
    rows.emplace_back("pool_leases", registrar_.pool_leases());
  }
  if (front_.status_rows) front_.status_rows(rows);
  // Written unlocked: a slow disk must not stall the workers.
  if (auto ok = StatusFile(config_.status_file).write(rows); !ok) log_.warn("status file: {}", ok.error());
}

}  // namespace dialout
