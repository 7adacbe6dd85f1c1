#include "intermediary/relay.hpp"

#include <fmt/ranges.h>

#include <algorithm>

#include "intermediary/forwarder.hpp"
#include "intermediary/peer_identity.hpp"
#include "netlib/socket.hpp"
#include "netlib/status_file.hpp"

namespace dialout {
Relay::Relay(EventLoop& loop, TlsContext& tls, Policy policy, const RelayConfig& config, Logger& log)
    : loop_(loop),
      tls_(tls),
      config_(config),
      log_(log),
      policy_(std::move(policy)),
      // Per reason, and per session: one flooding peer gets 2 of a reason's
      // 5 lines per 10 s and leaves the rest to others.
      drop_log_(log, 5, std::chrono::seconds(10), 2) {}

Session* Relay::find(SessionId id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

bool Relay::on_frame(Session& s, const FrameView& f) {
  switch (s.state) {
    case Session::State::AwaitHello:
      if (f.type != MsgType::Hello) break;
      return on_hello(s, f);
    case Session::State::AwaitRegister:
      if (f.type != MsgType::Register) break;
      return on_register(s, f);
    case Session::State::Ready:
      switch (f.type) {
        case MsgType::Data: on_data(s, f); return true;
        case MsgType::Ping: {
          auto p = decode_ping(f.payload);
          if (!p) break;
          scratch_.clear();
          (void)encode(Pong{p->token}, scratch_);
          send(s, SendQueue::Lane::Urgent, scratch_);
          return !close_if_stalled(s);  // pings from a peer that reads none of the pongs
        }
        case MsgType::Pong:
          if (!decode_pong(f.payload)) break;
          return true;
        default: break;
      }
      break;
    case Session::State::Handshake: break;
  }
  ++counters_.drop_malformed;
  refuse(s, RefuseReason::OutOfOrder, fmt::format("unexpected or malformed frame type {}", unsigned(f.type)));
  return false;
}

bool Relay::on_hello(Session& s, const FrameView& f) {
  auto h = decode_hello(f.payload);
  if (!h) {
    refuse(s, RefuseReason::Malformed, std::string("bad HELLO: ") + to_string(h.error()));
    return false;
  }
  if (h->version != kProtocolVersion) {
    refuse(s, RefuseReason::BadVersion,
           fmt::format("protocol version {} not supported (this intermediary speaks {})", h->version, kProtocolVersion));
    return false;
  }
  s.capabilities = h->capabilities & kCapAll;
  scratch_.clear();
  (void)encode(Hello{kProtocolVersion, kCapAll}, scratch_);
  send(s, SendQueue::Lane::Urgent, scratch_);
  s.state = Session::State::AwaitRegister;
  return true;
}

bool Relay::on_register(Session& s, const FrameView& f) {
  auto r = decode_register(f.payload);
  if (!r) {
    refuse(s, RefuseReason::Malformed, std::string("bad REGISTER: ") + to_string(r.error()));
    return false;
  }
  if (!policy_.may_register(s.who, r->name)) {
    ++counters_.refused_register;
    refuse(s, RefuseReason::NameNotAllowed,
           fmt::format("identity '{}' may not register name '{}'", s.who.name, r->name));
    return false;
  }
  for (const auto& p : r->prefixes) {
    if (!policy_.may_advertise(s.who, p)) {
      ++counters_.refused_register;
      refuse(s, RefuseReason::PrefixNotAllowed,
             fmt::format("identity '{}' may not advertise {}", s.who.name, p.to_string()));
      return false;
    }
  }
  std::vector<Prefix> assigned;
  PriorLeases leases_before;
  std::string pool_key = s.who.name + "/" + r->name;
  if (r->flags & kRegisterWantAddress) {
    auto got = assign_addresses(pool_key, s.who.name, leases_before);
    if (!got) {
      ++counters_.refused_register;
      refuse(s, got.error().reason, got.error().text);
      return false;
    }
    assigned = std::move(*got);
  }
  std::vector<Prefix> nestable;
  for (const auto& p : r->prefixes)
    if (policy_.may_nest(s.who, p)) nestable.push_back(p);
  auto site = registry_.add_session(s.id, s.who.name, r->name, r->prefixes, assigned, nestable);
  if (!site) {
    // Every refusal from here on hands the addresses back: a refused name
    // must not keep a lease (and its grace) that nobody used.
    revert_addresses(pool_key, leases_before);
    ++counters_.refused_register;
    RefuseReason reason = RefuseReason::Malformed;
    switch (site.error().error) {
      case RegistryError::NameTaken: reason = RefuseReason::NameTaken; break;
      case RegistryError::PrefixTaken: reason = RefuseReason::PrefixTaken; break;
      case RegistryError::PrefixOverlaps: reason = RefuseReason::PrefixOverlaps; break;
      default: break;
    }
    refuse(s, reason, fmt::format("cannot register '{}': {}", r->name, to_string(site.error())));
    return false;
  }
  s.site = *site;
  s.state = Session::State::Ready;
  if (!assigned.empty()) pool_keys_[*site] = pool_key;
  scratch_.clear();
  (void)encode(Accept{*site, assigned}, scratch_);
  send(s, SendQueue::Lane::Urgent, scratch_);
  log_.info("{}: '{}' registered '{}' (site {}, {} prefixes)", s.peer, s.who.name, r->name, *site,
            r->prefixes.size());
  if (r->flags & kRegisterRoamed) retire_other_addresses(s);
  push_routes();
  return true;
}

void Relay::retire_other_addresses(Session& fresh) {
  const Site* site = registry_.site(fresh.site);
  if (site == nullptr) return;
  std::vector<SessionId> stale;
  for (SessionId id : site->sessions) {
    Session* other = find(id);
    if (other != nullptr && other != &fresh && other->peer_host != fresh.peer_host) stale.push_back(id);
  }
  for (SessionId id : stale)
    if (Session* other = find(id))
      close_session(*other, fmt::format("replaced: '{}' roamed to {}", fresh.who.name, fresh.peer_host));
}

void Relay::on_data(Session& s, const FrameView& f) {
  auto now = Session::Clock::now();
  auto d = decode_data(f.payload);
  if (!d) {
    ++counters_.drop_malformed;
    drop_log_.warn("malformed", s.drop_log, now, "{}: dropped DATA: {}", s.peer, to_string(d.error()));
    return;
  }
  const Site* sender = registry_.site(s.site);
  if (sender == nullptr) return;
  auto fwd = decide_forward(registry_, policy_, *sender, s.who, *d);
  if (!fwd) {
    switch (fwd.error()) {
      case DropReason::Malformed:
      case DropReason::SourceRouted:
      case DropReason::BadOffloadHeader: ++counters_.drop_malformed; break;
      case DropReason::SpoofedSource: ++counters_.drop_spoofed_source; break;
      case DropReason::NoRoute: ++counters_.drop_no_route; break;
      case DropReason::Policy:
      case DropReason::Denied: ++counters_.drop_policy; break;
    }
    drop_log_.warn(to_string(fwd.error()), s.drop_log, now, "{} ('{}', user '{}'): dropped datagram: {}", s.peer,
                   sender->name, s.who.name, to_string(fwd.error()));
    return;
  }
  const Site* target = registry_.site(fwd->dst);
  Session* out = target == nullptr || target->sessions.empty()
                     ? nullptr
                     : find(target->sessions[fwd->flow_hash % target->sessions.size()]);
  if (out == nullptr) {
    ++counters_.drop_no_route;
    return;
  }
  if (!d->vnet.empty() && !(out->capabilities & kCapVnetHeader)) {
    ++counters_.drop_malformed;
    drop_log_.warn("no-offload", s.drop_log, now,
                   "{}: dropped offloaded datagram: '{}' does not accept offload headers", s.peer, target->name);
    return;
  }
  auto lane = lane_for_datagram(d->packet.size());
  // Datagrams get half the urgent lane; the other half is the control
  // frames', so a control overflow means the peer stopped reading, never
  // that others flood it with small datagrams.
  if (lane == SendQueue::Lane::Urgent &&
      out->channel.queue().lane_bytes(lane) + f.size() > urgent_data_bytes(*out)) {
    ++counters_.drop_queue_full;
    return;
  }
  auto room = out->channel.queue().reserve(lane, f.size());
  std::copy(f.payload.data() - kFrameHeaderSize, f.payload.data() + f.payload.size(), room.begin());
  stamp_data_source(room.first(f.size()), sender->id);
  auto pushed = out->channel.queue().commit(lane, f.size());
  if (!pushed.ok) {
    ++counters_.drop_queue_full;
    return;
  }
  counters_.drop_queue_full += pushed.dropped;
  ++counters_.frames_forwarded;
  counters_.bytes_forwarded += d->packet.size();
  mark_dirty(*out);
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
  ++counters_.closed_slow_reader;
  log_.warn("{} ('{}'): control queue overflow with {} bytes unsent: the peer sends but does not read", s.peer,
            s.who.name, s.channel.queue().queued_bytes());
  close_session(s, "control queue overflow (slow reader)");
  return true;
}

void Relay::refuse(Session& s, RefuseReason reason, const std::string& text) {
  log_.warn("{} ('{}'): refused: {}: {}", s.peer, s.who.name, to_string(reason), text);
  scratch_.clear();
  (void)encode(Refuse{reason, text}, scratch_);
  s.channel.queue().push(SendQueue::Lane::Urgent, scratch_);
  s.flush_on_close = true;  // best effort: a fresh connection has room for one small frame
  close_session(s, "refused");
}

void Relay::close_session(Session& s, const std::string& why) {
  SessionId id = s.id;
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  log_.info("{} ('{}'): session closed: {}", s.peer, s.who.name, why);
  if (s.counted && --sessions_per_identity_[s.who.name] == 0) sessions_per_identity_.erase(s.who.name);
  s.retired = true;
  RelayWorker& w = owner(s);
  --w.sessions;
  w.closing.push_back(std::move(it->second));
  sessions_.erase(it);
  if (!on_thread(w)) wake(w);
  if (auto gone = registry_.remove_session(id)) {
    if (auto key = pool_keys_.find(*gone); key != pool_keys_.end()) {
      // The address stays reserved for a grace period: a roaming laptop that
      // comes back gets the same one, so its inner connections survive.
      for (auto& pool : pools_) pool.release(key->second, Session::Clock::now());
      pool_keys_.erase(key);
    }
    scratch_.clear();
    (void)encode(PeerGone{*gone}, scratch_);
    std::vector<uint8_t> frame = scratch_;
    for (auto& [sid, other] : sessions_)
      if (other->state == Session::State::Ready) send(*other, SendQueue::Lane::Urgent, frame);
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
  // Full snapshot per session (what its identity may reach), so a lost or
  // reordered update can never leave a stale route behind. Sessions of one
  // site see the same view: build it once per site.
  std::unordered_map<SiteId, std::vector<uint8_t>> by_site;
  for (auto& entry : sessions_) {
    Session& s = *entry.second;  // a plain reference: lambdas may not capture structured bindings (clang 14)
    if (s.state != Session::State::Ready) continue;
    auto [it, fresh] = by_site.try_emplace(s.site);
    if (fresh) {
      Routes routes;
      registry_.for_each_site([&](const Site& site) {
        if (site.id != s.site && policy_.may_reach(s.who, site.name))
          routes.entries.push_back(RouteEntry{site.id, site.name, site.prefixes});
      });
      if (!encode(routes, it->second)) log_.error("route table for '{}' does not fit one frame; not sent", s.who.name);
    }
    if (!it->second.empty()) send(s, SendQueue::Lane::Urgent, it->second);
  }
}

Expected<std::vector<Prefix>, Relay::Refusal> Relay::assign_addresses(const std::string& key, const std::string& owner,
                                                                      PriorLeases& before) {
  before.clear();
  if (pools_.empty())
    return unexpected(Refusal{RefuseReason::PoolExhausted, "this intermediary has no address pool configured"});
  auto now = Session::Clock::now();
  std::vector<Prefix> out;
  for (auto& pool : pools_) {
    auto prior = pool.lease(key);
    auto a = pool.assign(key, now, owner);
    if (!a) {
      revert_addresses(key, before);  // the pools before this one
      if (a.error() == PoolError::OwnerLimit)
        return unexpected(Refusal{
            RefuseReason::TooManyAddresses,
            fmt::format("identity '{}' already holds {} addresses of pool {} (max-addresses-per-identity), live or "
                        "kept {} s for reconnects",
                        owner, pool.held_by(owner, now), pool.range().to_string(),
                        std::chrono::duration_cast<std::chrono::seconds>(pool.grace()).count())});
      return unexpected(Refusal{RefuseReason::PoolExhausted,
                                fmt::format("pool {}: {}", pool.range().to_string(), to_string(a.error()))});
    }
    before.push_back(prior);
    out.push_back(*Prefix::make(*a, a->max_prefix_len()));
  }
  return out;
}

void Relay::revert_addresses(const std::string& key, const PriorLeases& before) {
  for (size_t i = 0; i < before.size() && i < pools_.size(); ++i) pools_[i].revert(key, before[i]);
}

Expected<void, std::string> Relay::reload_crl() {
  std::lock_guard g(tls_mu_);
  return tls_.try_reload_crl();
}

void Relay::replace_policy(Policy policy) {
  Lock lk(mu_);
  policy_ = std::move(policy);
}

RelayCounters Relay::counters() const {
  Lock lk(mu_);
  return counters_;
}

size_t Relay::session_count() const {
  Lock lk(mu_);
  return sessions_.size();
}

size_t Relay::site_count() const {
  Lock lk(mu_);
  return registry_.site_count();
}

size_t Relay::pool_leases() const {
  Lock lk(mu_);
  return pool_leases_locked();
}

size_t Relay::pool_leases_locked() const {
  size_t n = 0;
  for (const auto& pool : pools_) n += pool.in_use();
  return n;
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
  if (const Site* site = registry_.find(name)) {
    for (SessionId id : site->sessions)
      if (auto it = sessions_.find(id); it != sessions_.end()) out.push_back(it->second->owner);
  }
  return out;
}

void Relay::write_status() const {
  if (config_.status_file.empty()) return;
  Lock lk(mu_);
  const std::pair<std::string_view, uint64_t> rows[] = {
      {"sessions", sessions_.size()},
      {"sites", registry_.site_count()},
      {"frames_forwarded", counters_.frames_forwarded},
      {"bytes_forwarded", counters_.bytes_forwarded},
      {"drop_spoofed_source", counters_.drop_spoofed_source},
      {"drop_policy", counters_.drop_policy},
      {"drop_no_route", counters_.drop_no_route},
      {"drop_queue_full", counters_.drop_queue_full},
      {"drop_malformed", counters_.drop_malformed},
      {"refused_register", counters_.refused_register},
      {"handshake_failed", counters_.handshake_failed},
      {"closed_slow_reader", counters_.closed_slow_reader},
      {"assigned_addresses", pool_keys_.size()},
      {"pool_leases", pool_leases_locked()},
  };
  if (auto ok = StatusFile(config_.status_file).write(rows); !ok) log_.warn("status file: {}", ok.error());
}

}  // namespace dialout
