// The intermediary's answers on its control socket and metrics endpoint:
// status, routes, kill and reload turned into tables (netlib/status_table.hpp),
// and the counters into Prometheus text. Runs on the main loop.
#pragma once

#include <functional>
#include <string>

#include "intermediary/relay.hpp"
#include "netlib/control_protocol.hpp"
#include "netlib/status_table.hpp"

namespace dialout {

// `reload` does what SIGHUP does; it returns a one-line error or "" when
// everything reloaded.
using ReloadFn = std::function<std::string()>;

StatusTable relay_session_table(const std::vector<SessionRow>& rows);
StatusTable relay_route_table(const std::vector<SiteRow>& rows);
ControlReply relay_control(Relay& relay, const ControlRequest& request, const ReloadFn& reload);
std::string relay_metrics(const Relay& relay);

}  // namespace dialout
