#include "tund/site_control.hpp"

#include <fmt/core.h>

#include "netlib/certificate_expiry.hpp"
#include "netlib/metrics_text.hpp"

namespace dialout {

namespace {

std::string wall(std::chrono::system_clock::time_point t) {
  if (t.time_since_epoch().count() == 0) return "";
  return format_utc(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

}  // namespace

StatusTable uplink_table(const std::vector<Uplink::Status>& uplinks, const SiteControlContext& ctx) {
  StatusTable t{"uplinks",
                {"connection", "site", "state", "intermediary", "remote", "since", "path", "bytes_in", "bytes_out",
                 "rtt_ms", "tls", "cert_expires"},
                {}};
  for (const auto& u : uplinks) {
    StatusField::Value rtt;
    if (u.rtt) rtt = uint64_t((u.rtt->count() + 500) / 1000);
    t.rows.push_back({{"connection", uint64_t(u.index)},
                      {"site", ctx.site},
                      {"state", u.state},
                      {"intermediary", ctx.intermediary},
                      {"remote", u.remote},
                      {"since", wall(u.since)},
                      {"path", u.path},
                      {"bytes_in", u.bytes_in},
                      {"bytes_out", u.bytes_out},
                      {"rtt_ms", rtt},
                      {"tls", std::string(u.state == "ready" ? (u.resumed ? "resumed" : "full") : "")},
                      {"cert_expires", format_utc(u.cert_not_after)}});
  }
  return t;
}

StatusTable site_route_table(const RouteTable& routes) {
  StatusTable t{"routes", {"prefix", "site", "state"}, {}};
  for (const auto& p : routes.tunnel_prefixes()) {
    auto id = routes.lookup(p.addr);
    std::string site, state = "held";
    if (id && *id != 0) {
      site = routes.name_of(*id).value_or("");
      state = routes.local_prefixes().count(p) ? "local" : "routed";
    } else if (id) {
      state = "static, site not seen yet";
    }
    t.rows.push_back({{"prefix", p.to_string()}, {"site", site}, {"state", state}});
  }
  return t;
}

StatusTable dns_table(const DnsStatus& dns) {
  auto or_none = [](std::string v) -> StatusField::Value {
    if (v.empty()) return std::monostate{};
    return v;
  };
  return {"dns",
          {"method", "servers", "domains", "failures", "error"},
          {{{"method", dns.method},
            {"servers", or_none(dns_servers_text(dns.applied))},
            {"domains", or_none(dns_domains_text(dns.applied))},
            {"failures", dns.failures},
            {"error", or_none(dns.last_error)}}}};
}

ControlReply site_control(const SiteEngine& engine, const ControlRequest& req, const SiteControlContext& ctx) {
  auto reply = [&](std::vector<StatusTable> t) -> ControlReply {
    return {true, req.json ? render_json(t) : render_text(t)};
  };
  switch (req.verb) {
    case ControlVerb::Status: {
      std::vector<StatusTable> t{uplink_table(engine.uplink_status(), ctx), site_route_table(engine.routes())};
      if (const DnsLink* dns = engine.dns()) t.push_back(dns_table(dns->status()));
      return reply(std::move(t));
    }
    case ControlVerb::Routes: return reply({site_route_table(engine.routes())});
    case ControlVerb::Kill: return {false, "kill is the intermediary's (run it against the relay's control socket)"};
    case ControlVerb::Reload: {
      if (!ctx.reload) return {false, "reload is not available"};
      ControlReply r = ctx.reload();
      if (r.ok && req.json) r.body = fmt::format("{{\"reloaded\":true,\"message\":{}}}\n", json_string(r.body));
      return r;
    }
  }
  return {false, "unknown command"};
}

std::string site_metrics(const SiteEngine& engine, const std::string& site) {
  MetricsText m;
  m.table("dialout_site", kSiteCounters, engine.counters());
  std::vector<MetricsText::Sample> ready, in, out;
  for (const auto& u : engine.uplink_status()) {
    MetricsText::Labels l{{"site", site}, {"connection", std::to_string(u.index)}, {"path", u.path}};
    ready.push_back({l, u.state == "ready" ? 1u : 0u});
    in.push_back({l, u.bytes_in});
    out.push_back({l, u.bytes_out});
  }
  m.family("dialout_site_uplink_ready", "1 while the connection is registered", true, ready);
  m.family("dialout_site_uplink_received_bytes_total", "bytes received on the connection (resets on reconnect)",
           false, in);
  m.family("dialout_site_uplink_sent_bytes_total", "bytes sent on the connection (resets on reconnect)", false, out);
  return m.text();
}

}  // namespace dialout
