// The operations settings both daemons share: the control socket
// (dialoutctl) and the Prometheus endpoint. One table so `tund --help`,
// `intermediary --help` and docs/configuration.md say the same thing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "netlib/option_parsing.hpp"
#include "netlib/socket.hpp"

namespace dialout {

// control-socket (default `default_socket`; "none" turns it off),
// control-group, metrics-listen.
std::vector<OptionSpec> ops_option_specs(const std::string& default_socket);
// metrics-listen as an endpoint with an explicit port; nullopt when unset.
// Throws ConfigException (startup) on a bad value.
std::optional<Endpoint> metrics_endpoint(const LayeredOptions& o);

}  // namespace dialout
