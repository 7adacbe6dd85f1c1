// Relay: what dialoutctl sees and does (status rows, kill). Kept out of
// relay.cpp: these only read the tables under the lock, or close sessions
// through the same path every other close takes.
#include <algorithm>
#include <charconv>

#include "intermediary/relay.hpp"

namespace dialout {

std::vector<SessionRow> Relay::session_rows() const {
  Lock lk(mu_);
  const Registry& reg = registrar_.registry();
  std::vector<SessionRow> rows;
  rows.reserve(directory_.size());
  for (const auto& [id, e] : directory_) {
    SessionRow r;
    r.id = id;
    if (e.site != 0) {
      if (const Site* site = reg.site(e.site)) r.site = site->name;
    }
    r.identity = e.who.name;
    r.remote = e.peer;
    r.state = e.site != 0 ? "ready" : e.authenticated ? "authenticated" : "handshake";
    r.worker = e.owner;
    r.cert_not_after = e.who.not_after;
    if (e.stats != nullptr) {
      r.since = e.stats->connected_at;
      r.bytes_in = e.stats->bytes_in.get();
      r.bytes_out = e.stats->bytes_out.get();
      r.frames_in = e.stats->frames_in.get();
      r.frames_out = e.stats->frames_out.get();
      r.queue_drops = e.stats->queue_drops.get();
      r.rtt_us = e.stats->tcp_rtt_us.load(std::memory_order_relaxed);
      r.resumed = e.stats->resumed.load(std::memory_order_relaxed);
    }
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
  RelayWorker& main = *workers_[0];
  LocalWork local;
  size_t killed = 0;
  {
    Lock lk(mu_);
    std::vector<SessionId> ids;
    if (const Site* site = registrar_.registry().find(name_or_id)) {
      ids = site->sessions;
    } else {
      SessionId id = 0;
      auto [end, ec] = std::from_chars(name_or_id.data(), name_or_id.data() + name_or_id.size(), id);
      if (ec == std::errc() && end == name_or_id.data() + name_or_id.size() && directory_.count(id) != 0)
        ids.push_back(id);
    }
    // Each owner closes its own (RelayWorker): the main loop's at once below.
    for (SessionId id : ids) {
      if (directory_.count(id) == 0) continue;
      post_control(main, id, InboxKind::Kill, std::span(reinterpret_cast<const uint8_t*>(reason.data()), reason.size()),
                   local);
      ++killed;
    }
  }
  apply_local(main, local);
  finish(main);
  return killed;
}

}  // namespace dialout
