#include "intermediary/relay.hpp"

#include <fmt/ranges.h>

#include <sys/stat.h>

#include <algorithm>

#include "intermediary/forwarder.hpp"
#include "netlib/peer_identity.hpp"
#include "netlib/socket.hpp"
#include "netlib/status_file.hpp"

namespace dialout {
namespace {

// Datagrams up to this size take the urgent lane: pings, DNS, TCP ACKs and
// keystrokes never queue behind bulk. Deterministic, so both ends agree.
constexpr size_t kSmallDatagram = 256;
// Bytes read from one session before others get their turn.
constexpr size_t kReadBudget = 512 * 1024;

SendQueue::Lane lane_for(size_t packet_size) {
  return packet_size <= kSmallDatagram ? SendQueue::Lane::Urgent : SendQueue::Lane::Bulk;
}

}  // namespace

Relay::Relay(EventLoop& loop, TlsContext& tls, Policy policy, const RelayConfig& config, Logger& log)
    : loop_(loop),
      tls_(tls),
      policy_(std::move(policy)),
      config_(config),
      log_(log),
      drop_log_(log, 5, std::chrono::seconds(10)) {}

Relay::~Relay() {
  if (tick_timer_ != 0) loop_.cancel_timer(tick_timer_);
  if (routes_timer_ != 0) loop_.cancel_timer(routes_timer_);
  if (listener_.valid()) loop_.remove(listener_.get());
  for (auto& [id, s] : sessions_) loop_.remove(s->channel.fd());
}

namespace {
int64_t mtime_ns(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return 0;
  return int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}
}  // namespace

Expected<void, std::string> Relay::start() {
  for (const auto& range : config_.address_pools) {
    auto pool = AddressPool::make(range);
    if (!pool) return unexpected("address pool " + range.to_string() + ": " + pool.error());
    pools_.push_back(std::move(*pool));
  }
  crl_mtime_ns_ = mtime_ns(config_.tls.crl);
  auto fd = tcp_listen(config_.listen, 1024);
  if (!fd) return unexpected(fd.error());
  listener_ = std::move(*fd);
  auto local = local_endpoint(listener_.get());
  if (!local) return unexpected(local.error());
  port_ = local->port;
  loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
  arm_tick();
  log_.info("listening on {} (TLS 1.3, client certificates required)", local->to_string());
  return {};
}

void Relay::arm_tick() {
  // The loop's timers are one-shot: each tick schedules the next.
  auto period = std::clamp(config_.keepalive / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(250));
  tick_timer_ = loop_.add_timer(period, [this] {
    tick();
    arm_tick();
  });
}

void Relay::on_accept() {
  for (int i = 0; i < 64; ++i) {
    auto fd = tcp_accept(listener_.get());
    if (!fd) {
      log_.warn("accept: {}", fd.error());
      return;
    }
    if (!fd->valid()) return;  // nothing more waiting
    tune_data_socket(fd->get());
    auto peer_ep = peer_endpoint(fd->get());
    std::string peer = peer_ep ? peer_ep->to_string() : "unknown peer";
    std::string peer_host = peer_ep ? peer_ep->host : "";
    auto tls = TlsConnection::accept(tls_, std::move(*fd));
    if (!tls) {
      ++counters_.handshake_failed;
      log_.warn("{}: TLS setup failed: {}", peer, tls.error());
      continue;
    }
    SessionId id = next_session_++;
    SendQueue::Limits limits{.bulk_bytes = config_.queue_bytes,
                             .urgent_bytes = std::max<size_t>(config_.queue_bytes, kMaxControlPayload + kMaxFrameSize),
                             .batch_bytes = 256 * 1024};
    auto s = std::make_unique<Session>(id, Channel(std::move(*tls), limits), std::move(peer), loop_.now());
    Session& ref = *s;
    ref.peer_host = std::move(peer_host);
    sessions_.emplace(id, std::move(s));
    ref.interest = EPOLLIN | EPOLLOUT;
    loop_.add(ref.channel.fd(), ref.interest, [this, id](uint32_t ev) { on_event(id, ev); });
    drive_handshake(ref);
  }
}

Session* Relay::find(SessionId id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void Relay::on_event(SessionId id, uint32_t events) {
  Session* s = find(id);
  if (s == nullptr) return;
  if (s->state == Session::State::Handshake) {
    drive_handshake(*s);
    flush_dirty();
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    auto out = s->channel.read_frames([&](const FrameView& f) { return on_frame(*s, f); }, kReadBudget);
    using RS = Channel::ReadStatus;
    switch (out.status) {
      case RS::Stopped: flush_dirty(); return;  // session closed inside on_frame
      case RS::Closed:
        if (s->channel.has_partial_frame()) {
          ++counters_.drop_malformed;
          close_session(*s, "closed by peer in the middle of a frame");
        } else {
          close_session(*s, "closed by peer");
        }
        flush_dirty();
        return;
      case RS::Error: close_session(*s, "TLS error: " + s->channel.tls().last_error()); flush_dirty(); return;
      case RS::Malformed:
        ++counters_.drop_malformed;
        close_session(*s, std::string("malformed frame: ") + to_string(out.wire_error));
        flush_dirty();
        return;
      case RS::WouldBlock:
      case RS::Budget: break;
    }
    if (out.bytes > 0) s->last_rx = loop_.now();
  }
  flush(*s);
  flush_dirty();
}

void Relay::drive_handshake(Session& s) {
  auto st = s.channel.tls().handshake();
  if (st == TlsConnection::Status::WantRead || st == TlsConnection::Status::WantWrite) {
    uint32_t want = st == TlsConnection::Status::WantRead ? EPOLLIN : EPOLLOUT;
    if (want != s.interest) {
      s.interest = want;
      loop_.modify(s.channel.fd(), want);
    }
    return;
  }
  if (st != TlsConnection::Status::Done) {
    ++counters_.handshake_failed;
    close_session(s, "TLS handshake failed: " + s.channel.tls().last_error());
    return;
  }
  X509* cert = SSL_get0_peer_certificate(s.channel.tls().native());
  auto who = cert != nullptr ? peer_identity_from_certificate(cert)
                             : Expected<PeerIdentity, std::string>(unexpected(std::string("no client certificate")));
  if (!who) {
    ++counters_.handshake_failed;
    close_session(s, "unusable client certificate: " + who.error());
    return;
  }
  s.who = std::move(*who);
  s.state = Session::State::AwaitHello;
  s.last_rx = loop_.now();
  unsigned& count = sessions_per_identity_[s.who.name];
  ++count;
  s.counted = true;
  log_.info("{}: authenticated as '{}'{}", s.peer, s.who.name, s.who.groups.empty() ? "" : fmt::format(" (groups {})", fmt::join(s.who.groups, ",")));
  if (count > config_.max_sessions_per_identity) {
    ++counters_.refused_register;
    refuse(s, RefuseReason::TooManySessions,
           fmt::format("identity '{}' already has {} sessions", s.who.name, count - 1));
    return;
  }
  update_interest(s);
  // Application data may already be buffered inside TLS with the handshake.
  on_event(s.id, EPOLLIN);
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
          return true;
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
  std::vector<Prefix> prefixes = r->prefixes;
  std::vector<Prefix> assigned;
  std::string pool_key = s.who.name + "/" + r->name;
  if (r->flags & kRegisterWantAddress) {
    auto got = assign_addresses(pool_key);
    if (!got) {
      ++counters_.refused_register;
      refuse(s, RefuseReason::PoolExhausted, got.error());
      return false;
    }
    assigned = std::move(*got);
    prefixes.insert(prefixes.end(), assigned.begin(), assigned.end());
  }
  auto site = registry_.add_session(s.id, s.who.name, r->name, prefixes);
  if (!site) {
    ++counters_.refused_register;
    auto reason = site.error() == RegistryError::NameTaken     ? RefuseReason::NameTaken
                  : site.error() == RegistryError::PrefixTaken ? RefuseReason::PrefixTaken
                                                               : RefuseReason::Malformed;
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
  auto now = loop_.now();
  auto d = decode_data(f.payload);
  if (!d) {
    ++counters_.drop_malformed;
    drop_log_.warn("malformed", now, "{}: dropped DATA: {}", s.peer, to_string(d.error()));
    return;
  }
  const Site* sender = registry_.site(s.site);
  if (sender == nullptr) return;
  auto fwd = decide_forward(registry_, policy_, *sender, s.who, *d);
  if (!fwd) {
    switch (fwd.error()) {
      case DropReason::Malformed: ++counters_.drop_malformed; break;
      case DropReason::SpoofedSource: ++counters_.drop_spoofed_source; break;
      case DropReason::NoRoute: ++counters_.drop_no_route; break;
      case DropReason::Policy:
      case DropReason::Denied: ++counters_.drop_policy; break;
    }
    drop_log_.warn(to_string(fwd.error()), now, "{} ('{}', user '{}'): dropped datagram: {}", s.peer, sender->name,
                   s.who.name, to_string(fwd.error()));
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
    drop_log_.warn("no-offload", now, "{}: dropped offloaded datagram: '{}' does not accept offload headers",
                   s.peer, target->name);
    return;
  }
  auto lane = lane_for(d->packet.size());
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
  if (!out->dirty) {
    out->dirty = true;
    dirty_.push_back(out->id);
  }
}

void Relay::send(Session& s, SendQueue::Lane lane, std::span<const uint8_t> frame) {
  if (!s.channel.queue().push(lane, frame).ok) {
    log_.warn("{}: control queue overflow; peer is not reading", s.peer);
  }
  if (!s.dirty) {
    s.dirty = true;
    dirty_.push_back(s.id);
  }
}

void Relay::refuse(Session& s, RefuseReason reason, const std::string& text) {
  log_.warn("{} ('{}'): refused: {}: {}", s.peer, s.who.name, to_string(reason), text);
  scratch_.clear();
  (void)encode(Refuse{reason, text}, scratch_);
  s.channel.queue().push(SendQueue::Lane::Urgent, scratch_);
  s.channel.flush();  // best effort: a fresh connection has room for one small frame
  close_session(s, "refused");
}

void Relay::close_session(Session& s, const std::string& why) {
  SessionId id = s.id;
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  log_.info("{} ('{}'): session closed: {}", s.peer, s.who.name, why);
  loop_.remove(s.channel.fd());
  if (s.counted && --sessions_per_identity_[s.who.name] == 0) sessions_per_identity_.erase(s.who.name);
  graveyard_.push_back(std::move(it->second));
  sessions_.erase(it);
  if (auto gone = registry_.remove_session(id)) {
    if (auto key = pool_keys_.find(*gone); key != pool_keys_.end()) {
      // The address stays reserved for a grace period: a roaming laptop that
      // comes back gets the same one, so its inner connections survive.
      for (auto& pool : pools_) pool.release(key->second, loop_.now());
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
  // of connections) cost one push: the snapshot goes out once they settle.
  if (routes_timer_ != 0) return;
  routes_timer_ = loop_.add_timer(std::chrono::milliseconds(0), [this] {
    routes_timer_ = 0;
    send_route_snapshots();
  });
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
  flush_dirty();
}

void Relay::flush(Session& s) {
  s.dirty = false;
  if (s.channel.flush() == Channel::FlushStatus::Error) {
    close_session(s, "TLS write failed: " + s.channel.tls().last_error());
    return;
  }
  update_interest(s);
}

void Relay::flush_dirty() {
  // flush() may close sessions, which may queue frames for others: bounded rounds.
  for (int round = 0; round < 4 && !dirty_.empty(); ++round) {
    auto ids = std::move(dirty_);
    dirty_.clear();
    for (SessionId id : ids)
      if (Session* s = find(id)) flush(*s);
  }
}

void Relay::update_interest(Session& s) {
  uint32_t want = s.channel.epoll_events();
  if (want != s.interest) {
    s.interest = want;
    loop_.modify(s.channel.fd(), want);
  }
}

Expected<std::vector<Prefix>, std::string> Relay::assign_addresses(const std::string& key) {
  if (pools_.empty()) return unexpected(std::string("this intermediary has no address pool configured"));
  std::vector<Prefix> out;
  for (auto& pool : pools_) {
    auto a = pool.assign(key, loop_.now());
    if (!a) return unexpected(fmt::format("pool {}: {}", pool.range().to_string(), to_string(a.error())));
    out.push_back(*Prefix::make(*a, a->max_prefix_len()));
  }
  return out;
}

void Relay::reload_crl_if_changed() {
  // Revocations take effect without a restart or a signal: the CRL file is
  // watched (a SIGHUP reloads it too).
  int64_t m = mtime_ns(config_.tls.crl);
  if (m == 0 || m == crl_mtime_ns_) return;
  crl_mtime_ns_ = m;
  if (auto ok = tls_.try_reload_crl(); !ok) {
    log_.error("CRL {} changed but could not be loaded, keeping the old one: {}", config_.tls.crl, ok.error());
    return;
  }
  log_.info("CRL {} changed: reloaded; new handshakes are checked against it", config_.tls.crl);
}

void Relay::tick() {
  graveyard_.clear();
  auto now = loop_.now();
  std::vector<std::pair<SessionId, std::string>> doomed;
  for (auto& [id, s] : sessions_) {
    if (s->state != Session::State::Ready) {
      if (now - s->opened > config_.handshake_timeout) {
        ++counters_.handshake_failed;  // stuck in TLS, or authenticated but never registered
        doomed.emplace_back(id, "no completed registration within the handshake timeout");
      }
      continue;
    }
    if (now - s->last_rx > config_.dead_after) {
      doomed.emplace_back(id, "nothing received for too long (dead peer)");
      continue;
    }
    if (now - s->last_ping >= config_.keepalive) {
      s->last_ping = now;
      scratch_.clear();
      (void)encode(Ping{uint64_t(now.time_since_epoch().count())}, scratch_);
      send(*s, SendQueue::Lane::Urgent, scratch_);
    }
    if (!s->dirty && s->channel.queue().empty()) s->channel.trim();
  }
  for (auto& [id, why] : doomed)
    if (Session* s = find(id)) close_session(*s, why);
  flush_dirty();
  if (now - last_status_ >= std::chrono::seconds(1)) {
    last_status_ = now;
    for (auto& pool : pools_) pool.expire(now);
    reload_crl_if_changed();
    write_status();
  }
}

void Relay::announce_restart() {
  scratch_.clear();
  (void)encode(Restarting{uint32_t(config_.restart_hint.count())}, scratch_);
  for (auto& [id, s] : sessions_) {
    if (s->state == Session::State::Handshake) continue;
    s->channel.queue().push(SendQueue::Lane::Urgent, scratch_);
    s->channel.flush();
  }
  if (listener_.valid()) {
    loop_.remove(listener_.get());
    listener_.reset();
  }
  log_.info("told {} sessions to reconnect in {} ms", sessions_.size(), config_.restart_hint.count());
}

void Relay::write_status() const {
  if (config_.status_file.empty()) return;
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
      {"assigned_addresses", pool_keys_.size()},
  };
  if (auto ok = StatusFile(config_.status_file).write(rows); !ok) log_.warn("status file: {}", ok.error());
}

}  // namespace dialout
