// Relay: what dialoutctl sees and does (status rows, kill). Kept out of
// relay.cpp: these only read the tables under the lock, or close sessions
// through the same path every other close takes.
#include <algorithm>
#include <charconv>

#include "intermediary/relay.hpp"

namespace dialout {

namespace {

const char* state_name(RelaySession::State s) {
  switch (s) {
    case RelaySession::State::Handshake: return "handshake";
    case RelaySession::State::AwaitHello: return "hello";
    case RelaySession::State::AwaitRegister: return "register";
    case RelaySession::State::Ready: return "ready";
    case RelaySession::State::Closed: return "closed";
  }
  return "?";
}

}  // namespace

std::vector<SessionRow> Relay::session_rows() const {
  Lock lk(mu_);
  const Registry& reg = registrar_.registry();
  std::vector<SessionRow> rows;
  rows.reserve(sessions_.size());
  for (const auto& [id, s] : sessions_) {
    SessionRow r;
    r.id = id;
    if (s->core.ready()) {
      if (const Site* site = reg.site(s->core.site())) r.site = site->name;
    }
    r.identity = s->who.name;
    r.remote = s->peer;
    r.state = state_name(s->core.state());
    r.since = s->connected_at;
    r.worker = s->owner;
    r.bytes_in = s->bytes_in.get();
    r.bytes_out = s->bytes_out.get();
    r.frames_in = s->frames_in.get();
    r.frames_out = s->frames_out.get();
    r.queue_drops = s->queue_drops.get();
    r.resumed = s->resumed;
    r.cert_not_after = s->who.not_after;
    rows.push_back(std::move(r));
  }
  std::sort(rows.begin(), rows.end(), [](const SessionRow& a, const SessionRow& b) { return a.id < b.id; });
  return rows;
}

std::vector<SiteRow> Relay::site_rows() const {
  Lock lk(mu_);
  std::vector<SiteRow> rows;
  registrar_.registry().for_each_site([&](const Site& s) {
    rows.push_back(SiteRow{s.id, s.name, s.identity, s.prefixes, s.sessions.size()});
  });
  return rows;
}

size_t Relay::kill(std::string_view name_or_id, std::string reason) {
  FlushLog log_flush{deferred_};
  Lock lk(mu_);
  std::vector<SessionId> ids;
  if (const Site* site = registrar_.registry().find(name_or_id)) {
    ids = site->sessions;
  } else {
    SessionId id = 0;
    auto [end, ec] = std::from_chars(name_or_id.data(), name_or_id.data() + name_or_id.size(), id);
    if (ec == std::errc() && end == name_or_id.data() + name_or_id.size() && sessions_.count(id) != 0)
      ids.push_back(id);
  }
  size_t killed = 0;
  for (SessionId id : ids) {
    Session* s = find(id);
    if (s == nullptr || s->retired) continue;
    dlog().info("{} ('{}'): killed by the operator: {}", s->peer, s->who.name, reason);
    if (s->core.state() == RelaySession::State::Handshake) {
      // No TLS yet: nothing can carry a REFUSE.
      close_session(*s, "killed by the operator: " + reason);
    } else {
      // Through the refusal path: the REFUSE is flushed before the close
      // (by its owner), the site logs the reason and reconnects.
      refuse(*s, RefuseReason::Closed, reason);
    }
    ++killed;
  }
  // Sessions of this (main) loop's worker close now; close_session woke
  // the other owners.
  if (killed > 0 && on_thread(*workers_[0])) finish(*workers_[0], lk);
  return killed;
}

}  // namespace dialout
