#include "intermediary/relay_control.hpp"

#include <fmt/core.h>

#include <map>

#include "netlib/certificate_expiry.hpp"
#include "netlib/metrics_text.hpp"

namespace dialout {

namespace {

std::string wall(std::chrono::system_clock::time_point t) {
  return format_utc(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

ControlReply tables(const ControlRequest& req, std::vector<StatusTable> t) {
  return {true, req.json ? render_json(t) : render_text(t)};
}

}  // namespace

StatusTable relay_session_table(const std::vector<SessionRow>& rows) {
  StatusTable t{"sessions",
                {"id", "site", "identity", "remote", "state", "since", "worker", "path", "bytes_in", "bytes_out",
                 "frames_in", "frames_out", "rtt_ms", "queue_drops", "tls", "cert_expires"},
                {}};
  for (const auto& r : rows) {
    t.rows.push_back({{"id", uint64_t(r.id)},
                      {"site", r.site},
                      {"identity", r.identity},
                      {"remote", r.remote},
                      {"state", r.state},
                      {"since", wall(r.since)},
                      {"worker", uint64_t(r.worker)},
                      {"path", r.path},
                      {"bytes_in", r.bytes_in},
                      {"bytes_out", r.bytes_out},
                      {"frames_in", r.frames_in},
                      {"frames_out", r.frames_out},
                      {"rtt_ms", r.rtt_us == 0 ? StatusField::Value{} : StatusField::Value{uint64_t((r.rtt_us + 500) / 1000)}},
                      {"queue_drops", r.queue_drops},
                      {"tls", std::string(r.resumed ? "resumed" : "full")},
                      {"cert_expires", format_utc(r.cert_not_after)}});
  }
  return t;
}

StatusTable relay_route_table(const std::vector<SiteRow>& rows) {
  StatusTable t{"routes", {"prefix", "site", "site_id", "identity", "sessions"}, {}};
  for (const auto& s : rows) {
    for (const auto& p : s.prefixes) {
      t.rows.push_back({{"prefix", p.to_string()},
                        {"site", s.name},
                        {"site_id", uint64_t(s.id)},
                        {"identity", s.identity},
                        {"sessions", uint64_t(s.sessions)}});
    }
  }
  return t;
}

ControlReply relay_control(Relay& relay, const ControlRequest& req, const ReloadFn& reload) {
  switch (req.verb) {
    case ControlVerb::Status:
      return tables(req, {relay_session_table(relay.session_rows()), relay_route_table(relay.site_rows())});
    case ControlVerb::Routes: return tables(req, {relay_route_table(relay.site_rows())});
    case ControlVerb::Kill: {
      size_t n = relay.kill(req.argument, "killed by dialoutctl");
      if (n == 0) return {false, fmt::format("no site or session '{}'", req.argument)};
      std::string msg = fmt::format("closed {} session(s) of '{}'", n, req.argument);
      return {true, req.json ? fmt::format("{{\"killed\":{}}}\n", n) : msg + "\n"};
    }
    case ControlVerb::Reload: {
      std::string err = reload();
      if (!err.empty()) return {false, "reload failed: " + err};
      return {true, req.json ? std::string("{\"reloaded\":true}\n") : std::string("reloaded\n")};
    }
  }
  return {false, "unknown command"};
}

std::string relay_metrics(const Relay& relay) {
  MetricsText m;
  m.gauge("dialout_relay_sessions", "live sessions (registered or not)", relay.session_count());
  m.gauge("dialout_relay_sites", "registered sites", relay.site_count());
  m.gauge("dialout_relay_pool_leases", "pool addresses held, live or kept for reconnects", relay.pool_leases());
  RelayCounterSet::Values v{};
  for (size_t i = 0; i < v.size(); ++i) v[i] = relay.counter(RelayCounter(i));
  m.table("dialout_relay", kRelayCounters, v);
  // Per site: bounded by the policy's names. Sums over the site's live
  // sessions, so they restart from 0 when its sessions are replaced.
  struct PerSite {
    uint64_t sessions = 0, in = 0, out = 0;
  };
  std::map<std::string, PerSite> sites;
  for (const auto& r : relay.session_rows()) {
    if (r.site.empty()) continue;
    auto& s = sites[r.site];
    ++s.sessions;
    s.in += r.bytes_in;
    s.out += r.bytes_out;
  }
  std::vector<MetricsText::Sample> sessions, in, out;
  for (const auto& [name, s] : sites) {
    MetricsText::Labels l{{"site", name}, {"path", "tls"}};
    sessions.push_back({l, s.sessions});
    in.push_back({l, s.in});
    out.push_back({l, s.out});
  }
  m.family("dialout_relay_site_sessions", "live sessions per site and path", true, sessions);
  m.family("dialout_relay_site_received_bytes_total",
           "bytes received from the site over its live sessions (resets when they are replaced)", false, in);
  m.family("dialout_relay_site_sent_bytes_total",
           "bytes sent to the site over its live sessions (resets when they are replaced)", false, out);
  return m.text();
}

}  // namespace dialout
