#include "netlib/ops_options.hpp"

#include <fmt/core.h>

namespace dialout {

std::vector<OptionSpec> ops_option_specs(const std::string& default_socket) {
  return {
      {"control-socket", "PATH",
       fmt::format("Unix socket dialoutctl talks to (mode 0660, directory created 0750), or none "
                   "(default {}).",
                   default_socket)},
      {"control-group", "NAME", "Group allowed to use the control socket (default none: root only)."},
      {"metrics-listen", "HOST:PORT",
       "Serve Prometheus metrics at http://HOST:PORT/metrics (default off)."},
  };
}

std::optional<Endpoint> metrics_endpoint(const LayeredOptions& o) {
  auto t = o.value("metrics-listen");
  if (!t) return std::nullopt;
  return o.check<Endpoint>("metrics-listen", *t, [](std::string_view s) -> Expected<Endpoint, std::string> {
    auto ep = Endpoint::parse(s, 0);
    if (!ep) return ep;
    if (ep->port == 0) return unexpected(std::string("needs a port (HOST:PORT)"));
    return ep;
  });
}

}  // namespace dialout
