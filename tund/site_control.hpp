// tund's answers on its control socket and metrics endpoint: the uplinks
// and the route table as tables (netlib/status_table.hpp), reload, and the
// counters as Prometheus text. Runs on the main loop, next to the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "netlib/control_protocol.hpp"
#include "netlib/status_table.hpp"
#include "tund/site_engine.hpp"

namespace dialout {

struct SiteControlContext {
  std::string site;             // our name, for the tables
  std::string intermediary;     // as configured, for the uplink rows
  // What SIGHUP does, as the reply to `reload`.
  std::function<ControlReply()> reload;
};

StatusTable uplink_table(const std::vector<Uplink::Status>& uplinks, const SiteControlContext& ctx);
StatusTable site_route_table(const RouteTable& routes);
// One row: how DNS_CONFIG is applied here and what is applied.
StatusTable dns_table(const DnsStatus& dns);
ControlReply site_control(const SiteEngine& engine, const ControlRequest& request, const SiteControlContext& ctx);
std::string site_metrics(const SiteEngine& engine, const std::string& site);

}  // namespace dialout
