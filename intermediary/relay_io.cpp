// The relay's threads, sockets and TLS: accepting, handing sessions to
// their worker, reading, flushing, closing (life cycle and timers:
// relay_housekeeping.cpp). What a frame means is RelaySession's
// (relay_session.cpp); relay.cpp applies its events under mu_. TLS runs on
// the owner's own context (RelayWorker::tls), never under a lock.
//
// Lock discipline: mu_ is held for every touch of shared state and released
// around every TLS call (handshake, read = decrypt, write = encrypt + send),
// which only the session's owner makes. A SendQueue's pending() batch stays
// put while other threads push (pushes only touch the urgent and bulk lanes;
// pinned by SendQueue.PendingBatchStaysPutWhileOthersPush), so the owner can
// write it unlocked and consume() it after re-locking.
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
  if (w.wake_pending || !w.wake) return;
  w.wake_pending = true;
  w.wake->signal();
}

void Relay::mark_dirty(Session& s) {
  if (s.dirty) return;
  s.dirty = true;
  RelayWorker& w = owner(s);
  w.dirty.push_back(s.id);
  if (!on_thread(w)) wake(w);
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
    tune_data_socket(fd->get());
    auto peer_ep = peer_endpoint(fd->get());
    Accepted a{std::move(*fd), peer_ep ? peer_ep->to_string() : "unknown peer", peer_ep ? peer_ep->host : ""};
    Lock lk(mu_);
    RelayWorker& w = **std::min_element(workers_.begin(), workers_.end(),
                                        [](const auto& x, const auto& y) { return x->sessions < y->sessions; });
    if (w.adopt.size() >= RelayWorker::kMaxHandoff) {
      counters_.add(RelayCounter::HandshakeFailed);
      lk.unlock();
      dlog().warn("{}: refused: worker {} has {} connections waiting to start", a.peer, w.index, RelayWorker::kMaxHandoff);
      continue;
    }
    ++w.sessions;
    if (on_thread(w)) {
      lk.unlock();
      adopt(w, std::move(a));
    } else {
      w.adopt.push_back(std::move(a));
      wake(w);
    }
  }
}

void Relay::adopt(RelayWorker& w, Accepted a) {
  FlushLog log_flush{deferred_};
  auto tls = TlsTransport::accept(*w.tls, std::move(a.fd));
  Lock lk(mu_);
  if (!tls) {
    --w.sessions;
    counters_.add(RelayCounter::HandshakeFailed);
    lk.unlock();
    dlog().warn("{}: TLS setup failed: {}", a.peer, tls.error());
    return;
  }
  SessionId id = next_session_++;
  TlsTransport* transport = tls->get();
  auto owned = std::make_unique<Session>(id, Channel(std::move(*tls), Channel::limits_for(config_.queue_bytes)),
                                         std::move(a.peer), timing(), w.loop->now());
  Session* s = owned.get();
  s->tls = transport;
  s->peer_host = std::move(a.peer_host);
  s->owner = w.index;
  sessions_.emplace(id, std::move(owned));
  w.owned.emplace(id, s);
  s->interest = EPOLLIN | EPOLLOUT;
  w.loop->add(s->channel.fd(), s->interest, [this, &w, id](uint32_t ev) { on_event(w, id, ev); });
  drive_handshake(w, *s, lk);
  finish(w, lk);
}

void Relay::on_wake(RelayWorker& w) {
  FlushLog log_flush{deferred_};
  w.wake->drain();
  Lock lk(mu_);
  // Cleared before the lists are taken: whatever arrives after this wakes us again.
  w.wake_pending = false;
  std::vector<Accepted> accepted = std::move(w.adopt);
  w.adopt.clear();
  auto reload = std::exchange(w.reload_crl, std::nullopt);
  lk.unlock();
  if (reload) apply_crl_reload(w, *reload);
  for (auto& a : accepted) adopt(w, std::move(a));
  lk.lock();
  drain_inbox(w);
  finish(w, lk);
  if (w.index == 0 && routes_due_) arm_routes();
}

void Relay::on_event(RelayWorker& w, SessionId id, uint32_t events) {
  FlushLog log_flush{deferred_};
  Lock lk(mu_);
  Session* s = find(id);
  if (s == nullptr) {  // retired by another thread: its fd goes now
    finish(w, lk);
    return;
  }
  if (s->core.state() == RelaySession::State::Handshake) {
    drive_handshake(w, *s, lk);
    finish(w, lk);
    return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_frames(w, *s, lk);
  if (!s->retired) flush(w, *s, lk);
  finish(w, lk);
}

void Relay::read_frames(RelayWorker& w, Session& s, Lock& lk) {
  // Decryption runs unlocked; each whole frame is handled under the lock.
  // `s` stays alive even if another thread retires it meanwhile: only this
  // thread frees it, at a later tick.
  lk.unlock();
  auto now = w.loop->now();
  auto out = s.channel.read_frames(
      [&](const FrameView& f) {
        s.frames_in.add();
        Lock g(mu_);
        return !s.retired && on_frame(s, f, now);
      },
      kReadBudget);
  bool wants_write = s.channel.transport().wants_write();
  s.bytes_in.add(out.bytes);
  lk.lock();
  if (s.retired) return;
  using RS = Channel::ReadStatus;
  switch (out.status) {
    case RS::Stopped: return;  // session closed inside on_frame
    case RS::Closed:
      if (s.channel.has_partial_frame()) {
        counters_.add(RelayCounter::DropMalformed);
        close_session(s, "closed by peer in the middle of a frame");
      } else {
        close_session(s, "closed by peer");
      }
      return;
    case RS::Error: close_session(s, "TLS error: " + s.channel.transport().last_error()); return;
    case RS::Malformed:
      counters_.add(RelayCounter::DropMalformed);
      close_session(s, std::string("malformed frame: ") + to_string(out.wire_error));
      return;
    case RS::WouldBlock:
      if (wants_write) s.write_blocked = true;  // TLS must send before it can read (e.g. a key update)
      break;
    case RS::Budget: break;
  }
  if (out.bytes > 0) s.core.received(now);
}

void Relay::drive_handshake(RelayWorker& w, Session& s, Lock& lk) {
  lk.unlock();
  IoStatus st;
  Expected<PeerIdentity, std::string> who = unexpected(std::string("no client certificate"));
  st = s.tls->handshake();  // on the owner's own SSL_CTX: no lock
  if (st == IoStatus::Done) {
    if (X509* cert = s.tls->peer_certificate()) who = peer_identity_from_certificate(cert);
  }
  lk.lock();
  if (s.retired) return;
  if (st == IoStatus::WantRead || st == IoStatus::WantWrite) {
    uint32_t want = st == IoStatus::WantRead ? EPOLLIN : EPOLLOUT;
    if (want != s.interest) {
      s.interest = want;
      w.loop->modify(s.channel.fd(), want);
    }
    return;
  }
  if (st != IoStatus::Done) {
    counters_.add(RelayCounter::HandshakeFailed);
    close_session(s, "TLS handshake failed: " + s.channel.transport().last_error());
    return;
  }
  if (!who) {
    counters_.add(RelayCounter::HandshakeFailed);
    close_session(s, "unusable client certificate: " + who.error());
    return;
  }
  s.who = std::move(*who);
  s.core.authenticated(w.loop->now());
  s.resumed = s.tls->resumed();
  if (s.resumed) counters_.add(RelayCounter::TlsResumed);
  unsigned& count = sessions_per_identity_[s.who.name];
  ++count;
  s.counted = true;
  dlog().info("{}: authenticated as '{}'{}", s.peer, s.who.name, s.who.groups.empty() ? "" : fmt::format(" (groups {})", fmt::join(s.who.groups, ",")));
  if (count > config_.max_sessions_per_identity) {
    counters_.add(RelayCounter::RefusedRegister);
    refuse(s, RefuseReason::TooManySessions,
           fmt::format("identity '{}' already has {} sessions", s.who.name, count - 1));
    return;
  }
  update_interest(w, s);
  // Application data may already be buffered inside TLS with the handshake.
  read_frames(w, s, lk);
  if (!s.retired) flush(w, s, lk);
}

void Relay::flush(RelayWorker& w, Session& s, Lock& lk) {
  if (close_if_stalled(s)) return;
  s.dirty = false;
  s.write_blocked = false;
  StreamTransport& tls = s.channel.transport();
  SendQueue& queue = s.channel.queue();
  for (int rounds = 0; rounds < 64; ++rounds) {
    auto pending = queue.pending();
    if (pending.empty() && !tls.has_pending_output()) break;
    lk.unlock();
    auto n = tls.write(pending);  // an empty span sends what TLS still holds
    lk.lock();
    if (s.retired) return;
    if (!n) {
      if (n.error() == IoStatus::WantWrite || n.error() == IoStatus::WantRead) {
        s.write_blocked = true;
        break;
      }
      close_session(s, "TLS write failed: " + tls.last_error());
      return;
    }
    queue.consume(*n);
    s.bytes_out.add(*n);
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

void Relay::finish(RelayWorker& w, Lock& lk) {
  // A flush may close sessions, which may queue frames for others: bounded rounds.
  for (int round = 0; round < 4 && !(w.dirty.empty() && w.closing.empty()); ++round) {
    // Swapped, not moved: both lists keep their capacity (no allocation per
    // event); flushes may mark sessions dirty again meanwhile.
    w.flushing.swap(w.dirty);
    w.dirty.clear();
    for (SessionId id : w.flushing)
      if (Session* s = find(id)) flush(w, *s, lk);
    w.flushing.clear();
    std::vector<std::unique_ptr<Session>> gone = std::move(w.closing);
    w.closing.clear();
    if (gone.empty()) continue;
    // Retired sessions are out of every shared table: no other thread can
    // reach them, so their last bytes go out unlocked.
    lk.unlock();
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
    lk.lock();
  }
}

}  // namespace dialout
