// The relay's threads, sockets and TLS: accepting, handing sessions to
// their worker, reading, flushing, closing (life cycle and timers:
// relay_housekeeping.cpp). What a frame means is RelaySession's
// (relay_session.cpp); relay.cpp applies its events. TLS runs on the
// owner's own context (RelayWorker::tls).
//
// Threads: every function taking a RelayWorker runs on that worker's
// thread and touches only its own sessions, with no lock; mu_ is taken
// briefly for the control plane's tables (the directory, the identity
// counts, the registrar) and never around TLS, a log write or a file.
#include <fmt/ranges.h>

#include <algorithm>

#include "intermediary/relay.hpp"
#include "intermediary/peer_identity.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls_transport.hpp"

namespace dialout {
namespace {

// Bytes read from one session before others get their turn.
constexpr size_t kReadBudget = 512 * 1024;

}  // namespace

void Relay::wake(RelayWorker& w) {
  if (!w.wake || w.wake_pending.exchange(true)) return;
  w.wake->signal();
}

void Relay::mark_dirty(RelayWorker& w, Session& s) {
  if (s.dirty) return;
  s.dirty = true;
  w.dirty.push_back(s.id);
}

void Relay::on_accept() {
  FlushLog log_flush{deferred_};
  // Only the fd is handed over: the worker starts TLS on its own context.
  for (int i = 0; i < 64; ++i) {
    auto fd = tcp_accept(listener_.get());
    if (!fd) {
      dlog().warn("accept: {}", fd.error());
      return;
    }
    if (!fd->valid()) return;  // nothing more waiting
    if (front_.take) {
      front_.take(std::move(*fd));  // port sharing: it calls adopt_connection for a site
      continue;
    }
    adopt_connection(std::move(*fd));
  }
}

void Relay::adopt_connection(UniqueFd fd) {
  FlushLog log_flush{deferred_};
  tune_data_socket(fd.get());
  auto peer_ep = peer_endpoint(fd.get());
  Accepted a{0, std::move(fd), peer_ep ? peer_ep->to_string() : "unknown peer", peer_ep ? peer_ep->host : ""};
  LocalWork local;
  Lock lk(mu_);
  a.id = next_session_++;
  // Counted from here until it registers or closes (pending_limits.hpp).
  auto admitted = pending_.admit(a.id, limit_source(a.peer_host), loop_.now());
  if (!admitted.admitted) {
    lk.unlock();
    workers_[0]->counters.add(RelayCounter::RefusedHandshakeRate);  // the main loop's thread
    workers_[0]->drop_log.warn("handshake-rate", loop_.now(), "{}: refused: over handshake-rate-per-source ({}/s)",
                               a.peer, config_.handshake_rate_per_source);
    return;
  }
  evict_pending(admitted.evicted, local);
  RelayWorker& w = **std::min_element(workers_.begin(), workers_.end(),
                                      [](const auto& x, const auto& y) { return x->sessions < y->sessions; });
  if (w.adopt.size() >= RelayWorker::kMaxHandoff) {
    pending_.done(a.id);
    lk.unlock();
    apply_local(*workers_[0], local);
    workers_[0]->counters.add(RelayCounter::HandshakeFailed);  // the main loop's thread
    // Rate-limited: in a storm this would be one line per connection.
    workers_[0]->drop_log.warn("handoff-full", loop_.now(), "{}: refused: worker {} has {} connections waiting to start",
                               a.peer, w.index, RelayWorker::kMaxHandoff);
    return;
  }
  ++w.sessions;
  if (on_thread(w)) {
    lk.unlock();
    apply_local(w, local);
    adopt(w, std::move(a));
  } else {
    w.adopt.push_back(std::move(a));
    wake(w);
    lk.unlock();
    apply_local(*workers_[0], local);
  }
}

void Relay::evict_pending(const std::vector<SessionId>& ids, LocalWork& local) {
  static constexpr std::string_view kWhy = "too many connections not yet registered (max-pending)";
  for (SessionId id : ids) {
    bool dropped = false;
    for (auto& w : workers_) {
      auto it = std::find_if(w->adopt.begin(), w->adopt.end(), [id](const Accepted& a) { return a.id == id; });
      if (it == w->adopt.end()) continue;
      w->adopt.erase(it);  // its fd closes here: it never reached a loop
      --w->sessions;
      workers_[0]->counters.add(RelayCounter::PendingEvicted);
      dropped = true;
      break;
    }
    // Adopted: only its owner may close it. One being adopted right now
    // finds itself gone from pending_ in adopt().
    if (!dropped)
      post_control(*workers_[0], id, InboxKind::Evict,
                   std::span(reinterpret_cast<const uint8_t*>(kWhy.data()), kWhy.size()), local);
  }
}

void Relay::adopt(RelayWorker& w, Accepted a) {
  FlushLog log_flush{deferred_};
  auto tls = TlsTransport::accept(*w.tls, std::move(a.fd));
  if (!tls) {
    {
      Lock lk(mu_);
      --w.sessions;
      pending_.done(a.id);
    }
    w.counters.add(RelayCounter::HandshakeFailed);
    dlog().warn("{}: TLS setup failed: {}", a.peer, tls.error());
    return;
  }
  SessionId id = a.id;
  TlsTransport* transport = tls->get();
  auto session = std::make_unique<Session>(id, Channel(std::move(*tls), Channel::limits_for(config_.queue_bytes)),
                                           std::move(a.peer), timing(), w.loop->now());
  Session& s = *session;
  s.tls = transport;
  s.peer_host = std::move(a.peer_host);
  s.owner = w.index;
  {
    Lock lk(mu_);
    if (!pending_.contains(id)) {
      // Evicted between the handoff and now (pending_limits.hpp): never started.
      --w.sessions;
      lk.unlock();
      w.counters.add(RelayCounter::PendingEvicted);
      return;
    }
    SessionEntry& entry = directory_[id];
    entry.owner = w.index;
    entry.peer = s.peer;
    entry.stats = s.stats;
  }
  w.owned.emplace(id, std::move(session));
  s.interest = EPOLLIN | EPOLLOUT;
  w.loop->add(s.channel.fd(), s.interest, [this, &w, id](uint32_t ev) { on_event(w, id, ev); });
  handshake_step(w, s);
  finish(w);
}

void Relay::on_wake(RelayWorker& w) {
  FlushLog log_flush{deferred_};
  w.wake->drain();
  // Cleared before the lists are taken: whatever arrives after this wakes us again.
  w.wake_pending.store(false);
  std::vector<Accepted> accepted;
  std::optional<TicketKeyRing> reload, rotated;
  bool reload_certificate = false;
  bool routes = false;
  {
    Lock lk(mu_);
    accepted = std::move(w.adopt);
    w.adopt.clear();
    reload = std::exchange(w.reload_crl, std::nullopt);
    reload_certificate = std::exchange(w.reload_certificate, false);
    rotated = std::exchange(w.new_ticket_keys, std::nullopt);
    routes = w.index == 0 && routes_due_;
  }
  if (rotated && !reload) (void)w.tls->set_ticket_keys(*rotated);
  if (reload) apply_crl_reload(w, *reload, reload_certificate);
  for (auto& a : accepted) adopt(w, std::move(a));
  drain_inbox(w);
  finish(w);
  if (routes) arm_routes();
}

void Relay::on_event(RelayWorker& w, SessionId id, uint32_t events) {
  FlushLog log_flush{deferred_};
  Session* s = owned(w, id);
  if (s == nullptr) {  // closed earlier in this pass: its fd goes now
    finish(w);
    return;
  }
  if (s->core.state() == RelaySession::State::Handshake) {
    if (w.gate.is_waiting(id)) {
      // Muted, so only an error or hang-up wakes it: the peer gave up.
      if (events & (EPOLLHUP | EPOLLERR)) close_session(w, *s, "closed by peer while its handshake waited its turn");
    } else {
      handshake_step(w, *s);
    }
    finish(w);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_frames(w, *s);
  if (!s->retired) flush(w, *s);
  finish(w);
}

void Relay::read_frames(RelayWorker& w, Session& s) {
  auto now = w.loop->now();
  auto out = s.channel.read_frames(
      [&](const FrameView& f) {
        s.stats->frames_in.add();
        return !s.retired && on_frame(w, s, f, now);
      },
      kReadBudget);
  s.stats->bytes_in.add(out.bytes);
  if (s.retired) return;
  using RS = Channel::ReadStatus;
  switch (out.status) {
    case RS::Stopped: return;  // session closed inside on_frame
    case RS::Closed:
      if (s.channel.has_partial_frame()) {
        w.counters.add(RelayCounter::DropMalformed);
        close_session(w, s, "closed by peer in the middle of a frame");
      } else {
        close_session(w, s, "closed by peer");
      }
      return;
    case RS::Error: close_session(w, s, "TLS error: " + s.channel.transport().last_error()); return;
    case RS::Malformed:
      w.counters.add(RelayCounter::DropMalformed);
      close_session(w, s, std::string("malformed frame: ") + to_string(out.wire_error));
      return;
    case RS::WouldBlock:
      // TLS must send before it can read (e.g. a key update).
      if (s.channel.transport().wants_write()) s.write_blocked = true;
      break;
    case RS::Budget: break;
  }
  if (out.bytes > 0) s.core.received(now);
}

void Relay::handshake_step(RelayWorker& w, Session& s) {
  if (w.gate.admit(s.id, w.loop->turn())) return drive_handshake(w, s);
  w.counters.add(RelayCounter::HandshakeQueued);
  if (s.interest != 0) {
    s.interest = 0;
    w.loop->modify(s.channel.fd(), 0);
  }
  if (w.gate_timer == 0) arm_handshake_release(w);
}

void Relay::arm_handshake_release(RelayWorker& w) {
  // A 0 ms timer runs after the turn's fds; armed from a timer, it fires in
  // the next turn (EventLoop::run_due_timers).
  w.gate_timer = w.loop->add_timer(std::chrono::milliseconds(0), [this, &w] { release_handshakes(w); });
}

void Relay::release_handshakes(RelayWorker& w) {
  FlushLog log_flush{deferred_};
  w.gate_timer = 0;
  w.released.clear();
  w.gate.release(w.loop->turn(), w.released);
  for (SessionId id : w.released) {
    Session* s = owned(w, id);
    if (s == nullptr || s->retired || s->core.state() != RelaySession::State::Handshake) continue;
    s->interest = EPOLLIN;  // unmuted; drive_handshake sets what TLS wants next
    w.loop->modify(s->channel.fd(), s->interest);
    drive_handshake(w, *s);
  }
  finish(w);
  if (w.gate.waiting() != 0) arm_handshake_release(w);
}

void Relay::drive_handshake(RelayWorker& w, Session& s) {
  IoStatus st = s.tls->handshake();  // on the owner's own SSL_CTX
  if (st == IoStatus::WantRead || st == IoStatus::WantWrite) {
    uint32_t want = st == IoStatus::WantRead ? EPOLLIN : EPOLLOUT;
    if (want != s.interest) {
      s.interest = want;
      w.loop->modify(s.channel.fd(), want);
    }
    return;
  }
  if (st != IoStatus::Done) {
    w.counters.add(RelayCounter::HandshakeFailed);
    close_session(w, s, "TLS handshake failed: " + s.channel.transport().last_error());
    return;
  }
  Expected<PeerIdentity, std::string> who = unexpected(std::string("no client certificate"));
  if (X509* cert = s.tls->peer_certificate()) who = peer_identity_from_certificate(cert);
  if (!who) {
    w.counters.add(RelayCounter::HandshakeFailed);
    close_session(w, s, "unusable client certificate: " + who.error());
    return;
  }
  authenticated(w, s, std::move(*who));
}

void Relay::authenticated(RelayWorker& w, Session& s, PeerIdentity who) {
  s.who = std::move(who);
  s.core.authenticated(w.loop->now());
  bool resumed = s.tls->resumed();
  s.stats->resumed.store(resumed, std::memory_order_relaxed);
  if (resumed) w.counters.add(RelayCounter::TlsResumed);
  unsigned count = 0;
  {
    Lock lk(mu_);
    count = ++sessions_per_identity_[s.who.name];
    SessionEntry& entry = directory_[s.id];
    entry.authenticated = true;
    entry.who = s.who;
  }
  s.counted = true;
  dlog().info("{}: authenticated as '{}'{}", s.peer, s.who.name,
              s.who.groups.empty() ? "" : fmt::format(" (groups {})", fmt::join(s.who.groups, ",")));
  if (count > config_.max_sessions_per_identity) {
    w.counters.add(RelayCounter::RefusedRegister);
    refuse(w, s, RefuseReason::TooManySessions,
           fmt::format("identity '{}' already has {} sessions", s.who.name, count - 1));
    return;
  }
  update_interest(w, s);
  // Application data may already be buffered inside TLS with the handshake.
  read_frames(w, s);
  if (!s.retired) flush(w, s);
}

void Relay::flush(RelayWorker& w, Session& s) {
  if (close_if_stalled(w, s)) return;
  s.dirty = false;
  s.write_blocked = false;
  StreamTransport& tls = s.channel.transport();
  SendQueue& queue = s.channel.queue();
  for (int rounds = 0; rounds < 64; ++rounds) {
    auto pending = queue.pending();
    if (pending.empty() && !tls.has_pending_output()) break;
    auto n = tls.write(pending);  // an empty span sends what TLS still holds
    if (!n) {
      if (n.error() == IoStatus::WantWrite || n.error() == IoStatus::WantRead) {
        s.write_blocked = true;
        break;
      }
      close_session(w, s, "TLS write failed: " + tls.last_error());
      return;
    }
    queue.consume(*n);
    s.stats->bytes_out.add(*n);
  }
  // After 64 rounds: yield to other connections; epoll says when to go on.
  update_interest(w, s);
}

void Relay::update_interest(RelayWorker& w, Session& s) {
  bool out = s.write_blocked || !s.channel.queue().empty() || s.channel.transport().has_pending_output();
  uint32_t want = EPOLLIN | (out ? EPOLLOUT : 0u);
  if (want != s.interest) {
    s.interest = want;
    w.loop->modify(s.channel.fd(), want);
  }
}

void Relay::finish(RelayWorker& w) {
  // A flush may close sessions, which may queue frames for others: bounded rounds.
  for (int round = 0; round < 4 && !(w.dirty.empty() && w.closing.empty()); ++round) {
    // Swapped, not moved: both lists keep their capacity (no allocation per
    // event); flushes may mark sessions dirty again meanwhile.
    w.flushing.swap(w.dirty);
    w.dirty.clear();
    for (SessionId id : w.flushing)
      if (Session* s = owned(w, id)) flush(w, *s);
    w.flushing.clear();
    std::vector<std::unique_ptr<Session>> gone = std::move(w.closing);
    w.closing.clear();
    for (auto& s : gone) {
      for (int rounds = 0; s->flush_on_close && rounds < 64; ++rounds) {
        auto pending = s->channel.queue().pending();
        if (pending.empty() && !s->channel.transport().has_pending_output()) break;
        auto n = s->channel.transport().write(pending);
        if (!n) break;
        s->channel.queue().consume(*n);
      }
      w.loop->remove(s->channel.fd());
      w.graveyard.push_back(std::move(s));
    }
  }
}

}  // namespace dialout
