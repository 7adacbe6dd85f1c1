#include "intermediary/relay.hpp"

#include <fmt/ranges.h>

#include <algorithm>

#include "intermediary/forwarder.hpp"
#include "intermediary/peer_identity.hpp"
#include "intermediary/route_snapshot.hpp"
#include "netlib/socket.hpp"
#include "netlib/status_file.hpp"

namespace dialout {
Relay::Relay(EventLoop& loop, TlsContext& tls, Policy policy, const RelayConfig& config, Logger& log)
    : loop_(loop),
      tls_(tls),
      config_(config),
      log_(log),
      deferred_(log),
      policy_(std::move(policy)),
      // Per reason, and per session: one flooding peer gets 2 of a reason's
      // 5 lines per 10 s and leaves the rest to others.
      drop_log_(deferred_.logger(), 5, std::chrono::seconds(10), 2) {}

Session* Relay::find(SessionId id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

bool Relay::on_frame(Session& s, const FrameView& f, Session::Clock::time_point now) {
  scratch_.clear();
  auto e = s.core.on_frame(f, now, scratch_);
  return apply(s, std::move(e), &f, now);
}

bool Relay::apply(Session& s, RelaySession::Event&& e, const FrameView* f, Session::Clock::time_point now) {
  using Kind = RelaySession::Event::Kind;
  switch (e.kind) {
    case Kind::None:
    case Kind::HelloOk:
      if (scratch_.empty()) return true;
      send(s, SendQueue::Lane::Urgent, scratch_);
      return !close_if_stalled(s);  // e.g. pings from a peer that reads none of the pongs
    case Kind::RegisterRequest: return on_register(s, e.request, now);
    case Kind::Forward:
      on_data(s, *f, e.data, now);
      return true;
    case Kind::DropMalformed:
      counters_.add(RelayCounter::DropMalformed);
      drop_log_.warn("malformed", s.drop_log, now, "{}: dropped DATA: {}", s.peer, to_string(e.wire_error));
      return true;
    case Kind::Refused:
      if (e.reason == RefuseReason::OutOfOrder) counters_.add(RelayCounter::DropMalformed);  // an unexpected or malformed frame
      close_refused(s, e);
      return false;
    case Kind::HandshakeTimeout:
      counters_.add(RelayCounter::HandshakeFailed);  // stuck in TLS, or authenticated but never registered
      close_session(s, e.text);
      return false;
    case Kind::Dead: close_session(s, e.text); return false;
  }
  return true;
}

bool Relay::on_register(Session& s, const Register& r, Session::Clock::time_point now) {
  auto got = registrar_.admit(policy_, RegistrationRequest{s.id, &s.who, s.peer_host, &r}, now);
  if (!got) {
    counters_.add(RelayCounter::RefusedRegister);
    refuse(s, got.error().reason, std::move(got.error().text));
    return false;
  }
  scratch_.clear();
  s.core.accept(got->site, got->assigned, scratch_);
  send(s, SendQueue::Lane::Urgent, scratch_);
  dlog().info("{}: '{}' registered '{}' (site {}, {} prefixes)", s.peer, s.who.name, r.name, got->site,
            r.prefixes.size());
  for (SessionId id : got->retire)
    if (Session* other = find(id))
      close_session(*other, fmt::format("replaced: '{}' roamed to {}", s.who.name, s.peer_host));
  push_routes();
  return true;
}

void Relay::on_data(Session& s, const FrameView& f, const DataView& d, Session::Clock::time_point now) {
  const Registry& registry = registrar_.registry();
  const Site* sender = registry.site(s.core.site());
  if (sender == nullptr) return;
  auto fwd = decide_forward(registry, policy_, *sender, s.who, d);
  if (!fwd) {
    switch (fwd.error()) {
      case DropReason::Malformed:
      case DropReason::SourceRouted:
      case DropReason::BadOffloadHeader: counters_.add(RelayCounter::DropMalformed); break;
      case DropReason::SpoofedSource: counters_.add(RelayCounter::DropSpoofedSource); break;
      case DropReason::NoRoute: counters_.add(RelayCounter::DropNoRoute); break;
      case DropReason::Policy:
      case DropReason::Denied: counters_.add(RelayCounter::DropPolicy); break;
    }
    drop_log_.warn(to_string(fwd.error()), s.drop_log, now, "{} ('{}', user '{}'): dropped datagram: {}", s.peer,
                   sender->name, s.who.name, to_string(fwd.error()));
    return;
  }
  const Site* target = registry.site(fwd->dst);
  Session* out = target == nullptr || target->sessions.empty()
                     ? nullptr
                     : find(target->sessions[fwd->flow_hash % target->sessions.size()]);
  if (out == nullptr) {
    counters_.add(RelayCounter::DropNoRoute);
    return;
  }
  if (!d.vnet.empty() && !(out->core.capabilities() & kCapVnetHeader)) {
    counters_.add(RelayCounter::DropMalformed);
    drop_log_.warn("no-offload", s.drop_log, now,
                   "{}: dropped offloaded datagram: '{}' does not accept offload headers", s.peer, target->name);
    return;
  }
  std::span<const uint8_t> whole(f.payload.data() - kFrameHeaderSize, f.size());
  if (out->owner == s.owner) {
    queue_data(*out, sender->id, whole, d.packet.size());
    return;
  }
  // Another worker's session: only its owner touches its SendQueue.
  RelayWorker& w = owner(*out);
  auto posted = w.inbox.post(InboxFrame{out->id, sender->id, d.packet.size()}, whole);
  if (!posted.ok) counters_.add(RelayCounter::DropInboxFull);
  if (posted.wake) wake(w);
}

void Relay::queue_data(Session& out, SiteId src, std::span<const uint8_t> frame, size_t ip_bytes) {
  auto lane = lane_for_datagram(ip_bytes);
  // Datagrams get half the urgent lane; the other half is the control
  // frames', so a control overflow means the peer stopped reading, never
  // that others flood it with small datagrams.
  if (lane == SendQueue::Lane::Urgent &&
      out.channel.queue().lane_bytes(lane) + frame.size() > urgent_data_bytes(out)) {
    counters_.add(RelayCounter::DropQueueFull);
    out.queue_drops.add();
    return;
  }
  auto room = out.channel.queue().reserve(lane, frame.size());
  std::copy(frame.begin(), frame.end(), room.begin());
  stamp_data_source(room.first(frame.size()), src);
  auto pushed = out.channel.queue().commit(lane, frame.size());
  if (!pushed.ok) {
    counters_.add(RelayCounter::DropQueueFull);
    out.queue_drops.add();
    return;
  }
  counters_.add(RelayCounter::DropQueueFull, pushed.dropped);
  out.queue_drops.add(pushed.dropped);
  out.frames_out.add();
  counters_.add(RelayCounter::FramesForwarded);
  counters_.add(RelayCounter::BytesForwarded, ip_bytes);
  mark_dirty(out);
}

void Relay::drain_inbox(RelayWorker& w) {
  w.inbox.drain([&](const InboxFrame& m, std::span<const uint8_t> frame) {
    auto it = w.owned.find(m.to);
    if (it == w.owned.end() || it->second->retired) {
      counters_.add(RelayCounter::DropSessionGone);
      return;
    }
    queue_data(*it->second, m.src, frame, m.ip_bytes);
  });
}

void Relay::send(Session& s, SendQueue::Lane lane, std::span<const uint8_t> frame) {
  if (s.stalled) return;  // being closed: nothing more for it
  // Control frames never drop (they carry routes and departures): one that
  // does not fit means the peer has left at least half the urgent lane
  // unread. Callers may be walking sessions_, so it closes at the next
  // chance (on_frame, or its next flush), counted and logged once there.
  if (!s.channel.queue().push(lane, frame).ok) s.stalled = true;
  mark_dirty(s);
}

bool Relay::close_if_stalled(Session& s) {
  if (!s.stalled || s.retired) return false;
  counters_.add(RelayCounter::ClosedSlowReader);
  dlog().warn("{} ('{}'): control queue overflow with {} bytes unsent: the peer sends but does not read", s.peer,
            s.who.name, s.channel.queue().queued_bytes());
  close_session(s, "control queue overflow (slow reader)");
  return true;
}

void Relay::refuse(Session& s, RefuseReason reason, std::string text) {
  scratch_.clear();
  auto e = s.core.refuse(reason, std::move(text), scratch_);
  close_refused(s, e);
}

void Relay::close_refused(Session& s, const RelaySession::Event& e) {
  dlog().warn("{} ('{}'): refused: {}: {}", s.peer, s.who.name, to_string(e.reason), e.text);
  s.channel.queue().push(SendQueue::Lane::Urgent, scratch_);
  s.flush_on_close = true;  // best effort: a fresh connection has room for one small frame
  close_session(s, "refused");
}

void Relay::close_session(Session& s, const std::string& why) {
  SessionId id = s.id;
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  dlog().info("{} ('{}'): session closed: {}", s.peer, s.who.name, why);
  if (s.counted && --sessions_per_identity_[s.who.name] == 0) sessions_per_identity_.erase(s.who.name);
  s.retired = true;
  RelayWorker& w = owner(s);
  --w.sessions;
  w.owned.erase(id);
  w.closing.push_back(std::move(it->second));
  sessions_.erase(it);
  if (!on_thread(w)) wake(w);
  // A laptop's pool address stays reserved for a grace period: one that
  // comes back gets the same one, so its inner connections survive.
  if (auto gone = registrar_.remove_session(id, Session::Clock::now())) {
    scratch_.clear();
    (void)encode(PeerGone{*gone}, scratch_);
    std::vector<uint8_t> frame = scratch_;
    for (auto& [sid, other] : sessions_)
      if (other->core.ready()) send(*other, SendQueue::Lane::Urgent, frame);
  }
  push_routes();
}

void Relay::push_routes() {
  // Many registrations or departures in one loop pass (a restart, a burst
  // of connections) cost one push: the snapshot goes out from the main
  // loop once they settle (on_wake / arm_routes arm the timer there).
  if (routes_due_) return;
  routes_due_ = true;
  if (on_thread(*workers_[0])) {
    arm_routes();
  } else {
    wake(*workers_[0]);
  }
}

void Relay::send_route_snapshots() {
  // Sessions of one site see the same view: built once per site.
  std::unordered_map<SiteId, std::vector<uint8_t>> by_site;
  for (auto& entry : sessions_) {
    Session& s = *entry.second;
    if (!s.core.ready()) continue;
    auto [it, fresh] = by_site.try_emplace(s.core.site());
    if (fresh && !encode_route_snapshot(registrar_.registry(), policy_, s.who, s.core.site(), it->second)) {
      it->second.clear();
      dlog().error("route table for '{}' does not fit one frame; not sent", s.who.name);
    }
    if (!it->second.empty()) send(s, SendQueue::Lane::Urgent, it->second);
  }
}

Expected<void, std::string> Relay::reload_crl() {
  FlushLog log_flush{deferred_};
  // Fresh ticket keys with every reload, so a revoked client cannot skip the
  // check by resuming; the same keys for every worker, so resumption keeps
  // working across them.
  auto keys = TlsContext::random_ticket_keys();
  if (!keys) return unexpected(keys.error());
  // Worker 0's context is this thread's; its result stands for all (same files).
  if (auto ok = tls_.try_reload_crl(*keys); !ok) return ok;
  Lock lk(mu_);
  for (auto& w : workers_) {
    if (w->index == 0) continue;
    w->reload_crl = *keys;
    wake(*w);
  }
  return {};
}

void Relay::apply_crl_reload(RelayWorker& w, const TlsContext::TicketKeys& keys) {
  FlushLog log_flush{deferred_};
  if (auto ok = w.tls->try_reload_crl(keys); !ok) {
    dlog().error("worker {}: CRL reload failed, keeping the old CRL: {}", w.index, ok.error());
    (void)w.tls->set_ticket_keys(keys);  // resumption across workers needs the same keys
  }
}

void Relay::replace_policy(Policy policy) {
  Lock lk(mu_);
  policy_ = std::move(policy);
}

uint64_t Relay::counter(RelayCounter c) const { return counters_.get(c); }

size_t Relay::session_count() const {
  Lock lk(mu_);
  return sessions_.size();
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
      if (auto it = sessions_.find(id); it != sessions_.end()) out.push_back(it->second->owner);
  }
  return out;
}

void Relay::write_status() const {
  if (config_.status_file.empty()) return;
  std::vector<std::pair<std::string_view, uint64_t>> rows;
  {
    Lock lk(mu_);
    rows.emplace_back("sessions", sessions_.size());
    rows.emplace_back("sites", registrar_.registry().site_count());
    for (auto& row : counter_rows(kRelayCounters, counters_.snapshot())) rows.push_back(row);
    rows.emplace_back("assigned_addresses", registrar_.assigned_sites());
    rows.emplace_back("pool_leases", registrar_.pool_leases());
  }
  // Written unlocked: a slow disk must not stall the workers.
  if (auto ok = StatusFile(config_.status_file).write(rows); !ok) log_.warn("status file: {}", ok.error());
}

}  // namespace dialout
